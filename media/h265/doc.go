// Package h265 holds pure-Go H.265/HEVC bitstream helpers: NAL unit types
// (which access units a decoder can start at, which carry parameter sets)
// and the fields of a sequence parameter set the pipeline needs before it
// opens a decoder (the picture size). Annex B framing is the same as
// H.264's: use media/h264's SplitAnnexB and AppendAnnexB. It never decodes
// pictures, and it never panics or allocates in proportion to a length an
// attacker wrote.
package h265
