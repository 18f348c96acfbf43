// Package mpa reads MPEG-1/2/2.5 audio frame headers (ISO/IEC 11172-3 and
// 13818-3, layers I to III: MP2, MP3): enough to split a run of frames, as
// an MPEG-TS PES carries them, and to know the stream's codec, rate and
// channels before a decoder opens. It never decodes audio, and it never
// panics on any input.
package mpa
