package codec

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/asticode/go-astiav"
	"github.com/livestream/livestream/media"
)

// Demuxer reads the packets of a media file (FLV, MP4, MPEG-TS, anything
// FFmpeg demuxes) as media.Packets: its first H.264 or HEVC video stream
// and its first audio stream.
type Demuxer struct {
	path         string
	fc           *astiav.FormatContext
	pkt          *astiav.Packet
	video, audio *astiav.Stream
	// Video describes the video stream. Audio is nil when there is no audio.
	Video *media.VideoParams
	Audio *media.AudioParams
}

// OpenFile opens path and finds its streams. It fails with an error wrapping
// ErrUnsupported for a file without H.264 or HEVC video.
func OpenFile(path string) (_ *Demuxer, err error) {
	d := &Demuxer{path: path, fc: astiav.AllocFormatContext(), pkt: astiav.AllocPacket()}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	if err := d.fc.OpenInput(path, nil, nil); err != nil {
		// avformat_open_input has freed the context; Free only forgets it.
		d.fc.Free()
		d.fc = nil
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := d.fc.FindStreamInfo(nil); err != nil {
		return nil, fmt.Errorf("read stream info of %s: %w", path, err)
	}
	for _, s := range d.fc.Streams() {
		cp := s.CodecParameters()
		switch cp.MediaType() {
		case astiav.MediaTypeVideo:
			if d.video != nil {
				continue
			}
			vc := media.H264
			switch cp.CodecID() {
			case astiav.CodecIDH264:
			case astiav.CodecIDHevc:
				vc = media.HEVC
			default:
				return nil, fmt.Errorf("%s: video codec %s: %w (want h264 or hevc)", path, cp.CodecID().Name(), ErrUnsupported)
			}
			fr := s.AvgFrameRate()
			if fr.Num() <= 0 || fr.Den() <= 0 {
				fr = s.RFrameRate()
			}
			d.video = s
			d.Video = &media.VideoParams{
				Codec: vc, Width: cp.Width(), Height: cp.Height(),
				FrameRate: media.Rational{Num: fr.Num(), Den: fr.Den()}, FrameRateSource: media.FrameRateContainer,
				Extradata: cp.ExtraData(),
			}
		case astiav.MediaTypeAudio:
			if d.audio != nil {
				continue
			}
			var c media.AudioCodec
			switch cp.CodecID() {
			case astiav.CodecIDAac:
				c = media.AAC
			case astiav.CodecIDMp3:
				c = media.MP3
			case astiav.CodecIDMp2:
				c = media.MP2
			default:
				return nil, fmt.Errorf("%s: audio codec %s: %w (want aac, mp3 or mp2)", path, cp.CodecID().Name(), ErrUnsupported)
			}
			d.audio = s
			d.Audio = &media.AudioParams{Codec: c, SampleRate: cp.SampleRate(), Channels: cp.ChannelLayout().NbChannels(), Extradata: cp.ExtraData()}
		}
	}
	if d.video == nil {
		return nil, fmt.Errorf("%s has no video stream: %w", path, ErrUnsupported)
	}
	return d, nil
}

// ReadPacket returns the next packet of the video or audio stream, in file
// order, or io.EOF at the end of the file.
func (d *Demuxer) ReadPacket() (*media.Packet, error) {
	if d.fc == nil {
		return nil, ErrClosed
	}
	for {
		if err := d.fc.ReadFrame(d.pkt); err != nil {
			if errors.Is(err, astiav.ErrEof) {
				return nil, io.EOF
			}
			return nil, fmt.Errorf("read %s: %w", d.path, err)
		}
		var s *astiav.Stream
		var kind media.Kind
		switch d.pkt.StreamIndex() {
		case d.video.Index():
			s, kind = d.video, media.Video
		case indexOf(d.audio):
			s, kind = d.audio, media.Audio
		default:
			d.pkt.Unref()
			continue
		}
		p := &media.Packet{
			Kind:     kind,
			PTS:      d.pkt.Pts(),
			DTS:      d.pkt.Dts(),
			Keyframe: kind == media.Audio || d.pkt.Flags().Has(astiav.PacketFlagKey),
			Data:     d.pkt.Data(),
		}
		if p.DTS == astiav.NoPtsValue {
			p.DTS = p.PTS
		}
		if p.PTS == astiav.NoPtsValue {
			p.PTS = p.DTS
		}
		if p.PTS != astiav.NoPtsValue {
			p.PTS = toTicks(p.PTS, s.TimeBase())
			p.DTS = toTicks(p.DTS, s.TimeBase())
		}
		d.pkt.Unref()
		return p, nil
	}
}

func indexOf(s *astiav.Stream) int {
	if s == nil {
		return -1
	}
	return s.Index()
}

// Duration is the duration the container declares (FLV metadata, MP4
// header), in media.ClockRate ticks; 0 when it declares none. MPEG-TS
// declares none: FFmpeg's figure for it is only estimated from the bit rate.
func (d *Demuxer) Duration() int64 {
	if d.fc == nil || d.fc.Duration() <= 0 {
		return 0
	}
	if f := d.fc.InputFormat(); f == nil || strings.Contains(f.Name(), "mpegts") {
		return 0
	}
	return toTicks(d.fc.Duration(), astiav.NewRational(1, 1000000))
}

// Close frees the demuxer. It is idempotent.
func (d *Demuxer) Close() {
	if d.pkt != nil {
		d.pkt.Free()
		d.pkt = nil
	}
	if d.fc != nil {
		d.fc.CloseInput()
		d.fc.Free()
		d.fc = nil
	}
}
