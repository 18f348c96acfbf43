package h265

// bitReader reads bits and exp-Golomb codes from an RBSP. Reading past the
// end sets err and returns zeros, so the parser checks err once at the end
// of a structure (and before acting on a value read). It is media/h264's,
// which keeps its own unexported: one concept per package.
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

// skip skips n bits.
func (r *bitReader) skip(n int) {
	if r.pos+n > len(r.b)*8 {
		r.err = true
		r.pos = len(r.b) * 8
		return
	}
	r.pos += n
}

func (r *bitReader) flag() bool { return r.u(1) == 1 }

// ue reads an unsigned exp-Golomb code. Codes longer than 32 bits are
// invalid and set err.
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
