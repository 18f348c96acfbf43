package h264

import (
	"bytes"
	"fmt"
)

// SplitAnnexB splits an Annex B byte stream into NAL units (without start
// codes; sub-slices of b). Zero bytes trailing a NAL unit belong to the next
// start code and are dropped.
func SplitAnnexB(b []byte) ([][]byte, error) {
	start := startCode(b, 0)
	if start < 0 {
		return nil, fmt.Errorf("split Annex B: no start code: %w", ErrInvalid)
	}
	var nals [][]byte
	for start < len(b) {
		next := startCode(b, start)
		end := next
		if next < 0 {
			end = len(b)
		} else {
			end = next - 3 // the 00 00 01 that begins the next one
		}
		nal := bytes.TrimRight(b[start:end], "\x00")
		if len(nal) > 0 {
			if len(nals) == MaxNALUnits {
				return nil, fmt.Errorf("split Annex B: %w", ErrTooMany)
			}
			nals = append(nals, nal)
		}
		if next < 0 {
			break
		}
		start = next
	}
	if len(nals) == 0 {
		return nil, fmt.Errorf("split Annex B: no NAL unit: %w", ErrInvalid)
	}
	return nals, nil
}

// startCode returns the index just after the first 00 00 01 at or after
// from, or -1.
func startCode(b []byte, from int) int {
	i := bytes.Index(b[from:], []byte{0, 0, 1})
	if i < 0 {
		return -1
	}
	return from + i + 3
}

// AppendAnnexB appends nals to dst, each after a 4-byte start code.
func AppendAnnexB(dst []byte, nals ...[]byte) []byte {
	for _, n := range nals {
		dst = append(dst, 0, 0, 0, 1)
		dst = append(dst, n...)
	}
	return dst
}
