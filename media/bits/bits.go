// Package bits reads the bit strings of video bitstreams (H.264's and
// H.265's parameter sets): fixed-width fields and exp-Golomb codes.
package bits

// Reader reads bits and exp-Golomb codes from an RBSP (a NAL unit without
// its emulation prevention bytes). Reading past the end sets Err and
// returns zeros, so a parser checks Err once at the end of a structure
// (and before acting on a value read).
type Reader struct {
	b   []byte
	pos int
	err bool
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err reports whether a read went past the end or met an invalid code.
func (r *Reader) Err() bool { return r.err }

// U reads an n-bit unsigned field (n ≤ 32).
func (r *Reader) U(n int) uint32 {
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

// Skip skips n bits.
func (r *Reader) Skip(n int) {
	if r.pos+n > len(r.b)*8 {
		r.err = true
		r.pos = len(r.b) * 8
		return
	}
	r.pos += n
}

// Flag reads a one-bit flag.
func (r *Reader) Flag() bool { return r.U(1) == 1 }

// UE reads an unsigned exp-Golomb code. Codes longer than 32 bits are
// invalid (in H.264 and H.265 alike) and set Err.
func (r *Reader) UE() uint32 {
	zeros := 0
	for !r.err && r.U(1) == 0 {
		zeros++
		if zeros > 31 {
			r.err = true
			return 0
		}
	}
	if r.err {
		return 0
	}
	return (1<<zeros - 1) + r.U(zeros)
}

// SE reads a signed exp-Golomb code.
func (r *Reader) SE() int32 {
	v := r.UE()
	if v&1 == 1 {
		return int32((v + 1) / 2)
	}
	return -int32(v / 2)
}
