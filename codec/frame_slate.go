package codec

// #cgo pkg-config: libavutil
// #include <libavutil/channel_layout.h>
// #include <libavutil/frame.h>
// #include <libavutil/samplefmt.h>
//
// // livestream_silence makes dst n samples of silence in like's format, or,
// // when like is NULL, in planar float at rate Hz with channels channels.
// static int livestream_silence(AVFrame *dst, const AVFrame *like, int rate, int channels, int n) {
// 	int ret;
// 	if (like) {
// 		dst->format = like->format;
// 		dst->sample_rate = like->sample_rate;
// 		ret = av_channel_layout_copy(&dst->ch_layout, &like->ch_layout);
// 	} else {
// 		dst->format = AV_SAMPLE_FMT_FLTP;
// 		dst->sample_rate = rate;
// 		av_channel_layout_default(&dst->ch_layout, channels);
// 		ret = 0;
// 	}
// 	if (ret < 0)
// 		return ret;
// 	dst->nb_samples = n;
// 	if ((ret = av_frame_get_buffer(dst, 0)) < 0)
// 		return ret;
// 	return av_samples_set_silence(dst->extended_data, 0, n, dst->ch_layout.nb_channels, dst->format);
// }
import "C"

import (
	"errors"
	"fmt"

	"github.com/asticode/go-astiav"
)

// The slate: what a live ladder encodes while its publisher is away.

// Silence returns n samples of silence at pts, in like's format (rate,
// sample format and channels), or, when like is nil, in planar float at
// rate Hz with channels channels. The caller releases it.
func Silence(like *Frame, rate, channels, n int, pts int64) (*Frame, error) {
	f := newFrame()
	var src *C.AVFrame
	if like != nil {
		src = (*C.AVFrame)(like.f.UnsafePointer())
	}
	if ret := C.livestream_silence((*C.AVFrame)(f.f.UnsafePointer()), src, C.int(rate), C.int(channels), C.int(n)); ret < 0 {
		f.Release()
		return nil, fmt.Errorf("make %d samples of silence: %w", n, astiav.Error(ret))
	}
	f.f.SetPts(pts)
	return f, nil
}

// SampleRate is an audio frame's rate in Hz (0 for video).
func (f *Frame) SampleRate() int { return f.f.SampleRate() }

// Black returns a black w×h yuv420p picture at pts. The caller releases it.
func Black(w, h int, pts int64) (*Frame, error) {
	f := newFrame()
	f.f.SetWidth(w)
	f.f.SetHeight(h)
	f.f.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := f.f.AllocBuffer(0); err != nil {
		f.Release()
		return nil, fmt.Errorf("allocate %dx%d picture: %w", w, h, err)
	}
	if err := f.f.ImageFillBlack(); err != nil {
		f.Release()
		return nil, fmt.Errorf("fill %dx%d picture with black: %w", w, h, err)
	}
	f.f.SetPts(pts)
	return f, nil
}

// ReadImage decodes the first picture of an image file (PNG, JPEG, or
// anything else FFmpeg reads as a picture): a slate of the operator's. The
// caller releases it.
func ReadImage(path string) (*Frame, error) {
	fc := astiav.AllocFormatContext()
	if fc == nil {
		return nil, fmt.Errorf("read image %s: allocate format context", path)
	}
	// avformat_close_input frees the context; on a failed open FFmpeg has
	// freed it already.
	if err := fc.OpenInput(path, nil, nil); err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	defer fc.CloseInput()
	if err := fc.FindStreamInfo(nil); err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	var st *astiav.Stream
	for _, s := range fc.Streams() {
		if s.CodecParameters().MediaType() == astiav.MediaTypeVideo {
			st = s
			break
		}
	}
	if st == nil {
		return nil, fmt.Errorf("read image %s: no picture in it", path)
	}
	dec := astiav.FindDecoder(st.CodecParameters().CodecID())
	if dec == nil {
		return nil, fmt.Errorf("read image %s: no decoder for %s", path, st.CodecParameters().CodecID().Name())
	}
	cc := astiav.AllocCodecContext(dec)
	defer cc.Free()
	if err := st.CodecParameters().ToCodecContext(cc); err != nil {
		return nil, fmt.Errorf("read image %s: %w", path, err)
	}
	if err := cc.Open(dec, nil); err != nil {
		return nil, fmt.Errorf("read image %s: open decoder: %w", path, err)
	}
	pkt := astiav.AllocPacket()
	defer pkt.Free()
	f := newFrame()
	for {
		if err := fc.ReadFrame(pkt); err != nil {
			// The end of the file: drain what the decoder holds.
			if err := cc.SendPacket(nil); err != nil && !errors.Is(err, astiav.ErrEof) {
				f.Release()
				return nil, fmt.Errorf("read image %s: %w", path, err)
			}
		} else {
			ok := pkt.StreamIndex() == st.Index()
			if ok {
				err = cc.SendPacket(pkt)
			}
			pkt.Unref()
			if ok && err != nil && !errors.Is(err, astiav.ErrEagain) {
				f.Release()
				return nil, fmt.Errorf("read image %s: decode: %w", path, err)
			}
		}
		err := cc.ReceiveFrame(f.f)
		if err == nil {
			if f.f.Width() <= 0 || f.f.Height() <= 0 {
				f.Release()
				return nil, fmt.Errorf("read image %s: a picture of %dx%d", path, f.f.Width(), f.f.Height())
			}
			return f, nil
		}
		if errors.Is(err, astiav.ErrEof) {
			f.Release()
			return nil, fmt.Errorf("read image %s: no picture decoded", path)
		}
		if !errors.Is(err, astiav.ErrEagain) {
			f.Release()
			return nil, fmt.Errorf("read image %s: decode: %w", path, err)
		}
	}
}
