// Package h264 holds pure-Go H.264 bitstream helpers: NAL unit framing
// (Annex B start codes and AVCC length prefixes), the AVCDecoderConfigurationRecord
// (ISO/IEC 14496-15 §5.2.4.1) and the fields of a sequence parameter set that
// playlists and players need. It never decodes pictures, and it never panics
// or allocates in proportion to a length an attacker wrote.
package h264
