package codec

// #cgo pkg-config: libavcodec libavformat libavfilter libswscale libavutil x264
// #include <libavcodec/avcodec.h>
// #include <libavformat/avformat.h>
// #include <libavfilter/avfilter.h>
// #include <libswscale/swscale.h>
// #include <libavutil/avutil.h>
// #include <stdint.h>
// #include <x264.h>
import "C"

import "fmt"

// Versions describes the FFmpeg libraries and the x264 build linked in.
func Versions() string {
	v := func(n C.uint) string { return fmt.Sprintf("%d.%d.%d", n>>16, (n>>8)&0xff, n&0xff) }
	return fmt.Sprintf("FFmpeg %s (libavcodec %s, libavformat %s, libavfilter %s, libswscale %s, libavutil %s), x264 build %d",
		C.GoString(C.av_version_info()), v(C.avcodec_version()), v(C.avformat_version()),
		v(C.avfilter_version()), v(C.swscale_version()), v(C.avutil_version()), C.X264_BUILD)
}
