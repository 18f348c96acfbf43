package h264

// bitReader reads bits and exp-Golomb codes from an RBSP. Reading past the
// end sets err and returns zeros, so parsers check err once at the end of a
// structure (and before acting on a value read).
type bitReader struct {
	b   []byte
	pos int
	err bool
}

func (r *bitReader) u(n int) uint32 {
	var v uint32
	for range n {
		if r.pos >= len(r.b)*8 {
			r.err = true
			return 0
		}
		v = v<<1 | uint32(r.b[r.pos>>3]>>(7-r.pos&7))&1
		r.pos++
	}
	return v
}

func (r *bitReader) flag() bool { return r.u(1) == 1 }

// ue reads an unsigned exp-Golomb code. Codes longer than 32 bits are
// invalid in H.264 and set err.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for !r.err && r.u(1) == 0 {
		zeros++
		if zeros > 31 {
			r.err = true
			return 0
		}
	}
	if r.err {
		return 0
	}
	return (1<<zeros - 1) + r.u(zeros)
}

// se reads a signed exp-Golomb code.
func (r *bitReader) se() int32 {
	v := r.ue()
	if v&1 == 1 {
		return int32((v + 1) / 2)
	}
	return -int32(v / 2)
}
