package codec

// #cgo pkg-config: libavutil
// #include <errno.h>
// #include <libavutil/buffer.h>
// #include <libavutil/error.h>
// #include <libavutil/frame.h>
// #include <libavutil/imgutils.h>
//
// // The picture buffers of a scaler's output: one contiguous yuv420p
// // picture per buffer, rows aligned for any SIMD swscale and x264 use,
// // with padding past the end as av_frame_get_buffer leaves it.
// static int livestream_picture_size(int w, int h) {
// 	int n = av_image_get_buffer_size(AV_PIX_FMT_YUV420P, w, h, 64);
// 	return n < 0 ? n : n + 64;
// }
//
// // livestream_pool_picture makes f a w×h yuv420p picture whose pixels are
// // a buffer of pool (back in the pool when its last reference goes).
// static int livestream_pool_picture(AVFrame *f, AVBufferPool *pool, int w, int h) {
// 	f->buf[0] = av_buffer_pool_get(pool);
// 	if (!f->buf[0])
// 		return AVERROR(ENOMEM);
// 	f->width = w;
// 	f->height = h;
// 	f->format = AV_PIX_FMT_YUV420P;
// 	int ret = av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data, AV_PIX_FMT_YUV420P, w, h, 64);
// 	if (ret < 0) {
// 		av_frame_unref(f);
// 		return ret;
// 	}
// 	f->extended_data = f->data;
// 	return 0;
// }
import "C"

import (
	"fmt"
	"unsafe"

	"github.com/asticode/go-astiav"
)

// Scaler converts pictures to one output size in yuv420p (what x264's main
// profile takes) with swscale's bicubic filter, the ffmpeg CLI's default.
//
// The swscale context is made from the first picture and made again when the
// input size or pixel format changes (a live publisher may change them).
// Output pictures come from a pool of buffers the Scaler owns: a released
// picture's buffer is reused by a later Scale, so a steady stream of
// pictures allocates nothing (and touches no fresh pages) per frame, however
// many are in flight. A Scaler is used by one goroutine. Close frees it; the
// pool's buffers still held elsewhere are freed when their last reference
// is released.
type Scaler struct {
	dstW, dstH int
	ssc        *astiav.SoftwareScaleContext
	srcW, srcH int
	srcFmt     astiav.PixelFormat
	pool       *C.AVBufferPool
}

// NewScaler returns a scaler to w×h.
func NewScaler(w, h int) *Scaler { return &Scaler{dstW: w, dstH: h} }

// NeedsScaling reports whether f must go through a Scaler to become a w×h
// yuv420p picture.
func NeedsScaling(f *Frame, w, h int) bool {
	return f.f.Width() != w || f.f.Height() != h || f.f.PixelFormat() != astiav.PixelFormatYuv420P
}

// Scale converts src into a new picture, which the caller releases. src
// is not released.
func (s *Scaler) Scale(src *Frame) (*Frame, error) {
	w, h, pf := src.f.Width(), src.f.Height(), src.f.PixelFormat()
	if s.ssc == nil || w != s.srcW || h != s.srcH || pf != s.srcFmt {
		if err := s.reset(w, h, pf); err != nil {
			return nil, err
		}
	}
	if s.pool == nil {
		size := C.livestream_picture_size(C.int(s.dstW), C.int(s.dstH))
		if size < 0 {
			return nil, fmt.Errorf("picture size %dx%d: %w", s.dstW, s.dstH, astiav.Error(size))
		}
		s.pool = C.av_buffer_pool_init(C.size_t(size), nil)
		if s.pool == nil {
			return nil, fmt.Errorf("allocate %dx%d picture pool: %w", s.dstW, s.dstH, astiav.Error(-C.ENOMEM))
		}
	}
	dst := newFrame()
	if ret := C.livestream_pool_picture((*C.AVFrame)(dst.f.UnsafePointer()), s.pool, C.int(s.dstW), C.int(s.dstH)); ret < 0 {
		dst.Release()
		return nil, fmt.Errorf("allocate %dx%d picture: %w", s.dstW, s.dstH, astiav.Error(ret))
	}
	if err := s.ssc.ScaleFrame(src.f, dst.f); err != nil {
		dst.Release()
		return nil, fmt.Errorf("scale %dx%d to %dx%d: %w", w, h, s.dstW, s.dstH, err)
	}
	dst.f.SetPts(src.f.Pts())
	return dst, nil
}

func (s *Scaler) reset(w, h int, pf astiav.PixelFormat) error {
	if s.ssc != nil {
		s.ssc.Free()
		s.ssc = nil
	}
	ssc, err := astiav.CreateSoftwareScaleContext(w, h, pf, s.dstW, s.dstH, astiav.PixelFormatYuv420P,
		astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBicubic))
	if err != nil {
		return fmt.Errorf("create scaler %dx%d %s to %dx%d: %w", w, h, pf, s.dstW, s.dstH, err)
	}
	s.ssc, s.srcW, s.srcH, s.srcFmt = ssc, w, h, pf
	return nil
}

// Close frees the scaler. It is idempotent.
func (s *Scaler) Close() {
	if s.ssc != nil {
		s.ssc.Free()
		s.ssc = nil
	}
	if s.pool != nil {
		C.av_buffer_pool_uninit(&s.pool) // the last held picture frees it
	}
}

// bufferAddr is where f's first plane starts: tests tell a reused buffer by it.
func (f *Frame) bufferAddr() uintptr {
	return uintptr(unsafe.Pointer((*C.AVFrame)(f.f.UnsafePointer()).data[0]))
}
