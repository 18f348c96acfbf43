package codec

// #include <malloc.h>
//
// // glibc's mallinfo2 (2.33+) sums every arena; mmapped chunks are in hblkhd.
// static size_t livestream_heap_in_use(void) {
// #if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
// 	struct mallinfo2 mi = mallinfo2();
// 	return mi.uordblks + mi.hblkhd;
// #else
// 	return 0;
// #endif
// }
import "C"

// HeapInUse is how many bytes of the C heap are allocated right now: every
// live FFmpeg and x264 allocation, and nothing of Go's. Unlike RSS it does
// not move with fragmentation or with memory malloc keeps after a free, so
// a leak check can compare it across runs to the byte. It is 0 where the C
// library cannot tell (not glibc 2.33 or later).
func HeapInUse() int64 {
	return int64(C.livestream_heap_in_use())
}
