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
