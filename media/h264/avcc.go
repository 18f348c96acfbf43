package h264

import "fmt"

// SplitAVCC splits length-prefixed NAL units (lengthSize 1, 2 or 4 bytes,
// from the avcC record) into sub-slices of b.
func SplitAVCC(b []byte, lengthSize int) ([][]byte, error) {
	if lengthSize != 1 && lengthSize != 2 && lengthSize != 4 {
		return nil, fmt.Errorf("split AVCC: length size %d: %w", lengthSize, ErrInvalid)
	}
	var nals [][]byte
	for len(b) > 0 {
		if len(b) < lengthSize {
			return nil, fmt.Errorf("split AVCC: %d bytes left for a %d-byte length: %w", len(b), lengthSize, ErrShort)
		}
		n := 0
		for _, c := range b[:lengthSize] {
			n = n<<8 | int(c)
		}
		b = b[lengthSize:]
		if n == 0 {
			return nil, fmt.Errorf("split AVCC: empty NAL unit: %w", ErrInvalid)
		}
		if n > len(b) {
			return nil, fmt.Errorf("split AVCC: NAL unit of %d bytes, %d left: %w", n, len(b), ErrShort)
		}
		if len(nals) == MaxNALUnits {
			return nil, fmt.Errorf("split AVCC: %w", ErrTooMany)
		}
		nals = append(nals, b[:n])
		b = b[n:]
	}
	if len(nals) == 0 {
		return nil, fmt.Errorf("split AVCC: no NAL unit: %w", ErrShort)
	}
	return nals, nil
}

// AVCCToAnnexB appends the NAL units of an AVCC access unit to dst in Annex B form.
func AVCCToAnnexB(dst, src []byte, lengthSize int) ([]byte, error) {
	nals, err := SplitAVCC(src, lengthSize)
	if err != nil {
		return dst, err
	}
	return AppendAnnexB(dst, nals...), nil
}

// AppendAVCC appends nals to dst, each after a 4-byte big-endian length.
func AppendAVCC(dst []byte, nals ...[]byte) []byte {
	for _, n := range nals {
		l := len(n)
		dst = append(dst, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
		dst = append(dst, n...)
	}
	return dst
}
