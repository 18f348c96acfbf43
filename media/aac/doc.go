// Package aac holds pure-Go AAC bitstream helpers: the AudioSpecificConfig
// (ISO/IEC 14496-3 §1.6.2.1) and ADTS framing (§1.A.2). It parses and writes
// headers only; it never decodes audio, and it never panics on hostile input.
package aac
