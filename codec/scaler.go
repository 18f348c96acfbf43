package codec

// #cgo pkg-config: libavutil
// #include <libavutil/frame.h>
import "C"

import (
	"fmt"

	"github.com/asticode/go-astiav"
)

// Scaler converts pictures to one output size in yuv420p (what x264's main
// profile takes) with swscale's bicubic filter, the ffmpeg CLI's default.
//
// The swscale context is made from the first picture and made again when the
// input size or pixel format changes (a live publisher may change them).
// A Scaler is used by one goroutine. Close frees it.
type Scaler struct {
	dstW, dstH int
	ssc        *astiav.SoftwareScaleContext
	srcW, srcH int
	srcFmt     astiav.PixelFormat
	dst        *astiav.Frame
}

// NewScaler returns a scaler to w×h.
func NewScaler(w, h int) *Scaler { return &Scaler{dstW: w, dstH: h} }

// NeedsScaling reports whether f must go through a Scaler to become a w×h
// yuv420p picture.
func NeedsScaling(f *Frame, w, h int) bool {
	return f.f.Width() != w || f.f.Height() != h || f.f.PixelFormat() != astiav.PixelFormatYuv420P
}

// Scale converts src and returns the result, which the caller releases.
// The scaler reuses one picture buffer, so there is no allocation per frame
// as long as every reference to the last result is released before the
// next call; while one is still held (a clone sent to another consumer),
// the scaler writes a new buffer instead. src is not released.
func (s *Scaler) Scale(src *Frame) (*Frame, error) {
	w, h, pf := src.f.Width(), src.f.Height(), src.f.PixelFormat()
	if s.ssc == nil || w != s.srcW || h != s.srcH || pf != s.srcFmt {
		if err := s.reset(w, h, pf); err != nil {
			return nil, err
		}
	}
	if C.av_frame_is_writable((*C.AVFrame)(s.dst.UnsafePointer())) == 0 {
		if err := s.newPicture(); err != nil {
			return nil, err
		}
	}
	if err := s.ssc.ScaleFrame(src.f, s.dst); err != nil {
		return nil, fmt.Errorf("scale %dx%d to %dx%d: %w", w, h, s.dstW, s.dstH, err)
	}
	s.dst.SetPts(src.f.Pts())
	return &Frame{f: s.dst.Clone()}, nil
}

func (s *Scaler) reset(w, h int, pf astiav.PixelFormat) error {
	s.Close()
	ssc, err := astiav.CreateSoftwareScaleContext(w, h, pf, s.dstW, s.dstH, astiav.PixelFormatYuv420P,
		astiav.NewSoftwareScaleContextFlags(astiav.SoftwareScaleContextFlagBicubic))
	if err != nil {
		return fmt.Errorf("create scaler %dx%d %s to %dx%d: %w", w, h, pf, s.dstW, s.dstH, err)
	}
	s.ssc, s.srcW, s.srcH, s.srcFmt = ssc, w, h, pf
	s.dst = astiav.AllocFrame()
	if err := s.newPicture(); err != nil {
		s.Close()
		return err
	}
	return nil
}

// newPicture gives s.dst a buffer of its own, dropping its reference to the
// old one (which its other holders keep).
func (s *Scaler) newPicture() error {
	s.dst.Unref()
	s.dst.SetWidth(s.dstW)
	s.dst.SetHeight(s.dstH)
	s.dst.SetPixelFormat(astiav.PixelFormatYuv420P)
	if err := s.dst.AllocBuffer(0); err != nil {
		return fmt.Errorf("allocate %dx%d picture: %w", s.dstW, s.dstH, err)
	}
	return nil
}

// Close frees the scaler. It is idempotent.
func (s *Scaler) Close() {
	if s.ssc != nil {
		s.ssc.Free()
		s.ssc = nil
	}
	if s.dst != nil {
		s.dst.Free()
		s.dst = nil
	}
}
