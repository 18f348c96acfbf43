package hlsmux

import (
	"bytes"
	"strconv"
)

// Variant is one rendition in a master playlist.
type Variant struct {
	// Name labels the variant for callers; it is not written (NAME belongs
	// to EXT-X-MEDIA, not EXT-X-STREAM-INF).
	Name string
	// URI of the media playlist, relative to the master ("720p/index.m3u8").
	URI string
	// Bandwidth is the peak segment bit rate; AverageBandwidth the average
	// (RFC 8216 §4.3.4.2), in bits per second.
	Bandwidth, AverageBandwidth int
	Width, Height               int
	// Codecs is the RFC 6381 list, "avc1.4d401f,mp4a.40.2".
	Codecs    string
	FrameRate float64
}

// EncodeMaster writes a master playlist listing vs in order. Zero or empty
// attributes are left out.
func EncodeMaster(vs []Variant) []byte {
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, v := range vs {
		b.WriteString("#EXT-X-STREAM-INF:BANDWIDTH=")
		b.WriteString(strconv.Itoa(v.Bandwidth))
		if v.AverageBandwidth > 0 {
			b.WriteString(",AVERAGE-BANDWIDTH=")
			b.WriteString(strconv.Itoa(v.AverageBandwidth))
		}
		if v.Width > 0 && v.Height > 0 {
			b.WriteString(",RESOLUTION=")
			b.WriteString(strconv.Itoa(v.Width))
			b.WriteByte('x')
			b.WriteString(strconv.Itoa(v.Height))
		}
		if v.Codecs != "" {
			b.WriteString(`,CODECS="`)
			b.WriteString(v.Codecs)
			b.WriteByte('"')
		}
		if v.FrameRate > 0 {
			b.WriteString(",FRAME-RATE=")
			b.WriteString(strconv.FormatFloat(v.FrameRate, 'f', 3, 64))
		}
		b.WriteByte('\n')
		b.WriteString(v.URI)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
