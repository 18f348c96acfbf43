package bits

import "testing"

// TestReader: fields, exp-Golomb codes of both signs, and reading past
// the end setting Err.
func TestReader(t *testing.T) {
	// 101 | 1 (ue 0) | 010 (ue 1) | 00100 (ue 3) | 011 (se -1) | 0
	r := NewReader([]byte{0b1011_0100, 0b0100_0110})
	if v := r.U(3); v != 5 {
		t.Errorf("U(3) = %d, want 5", v)
	}
	if v := r.UE(); v != 0 {
		t.Errorf("UE = %d, want 0", v)
	}
	if v := r.UE(); v != 1 {
		t.Errorf("UE = %d, want 1", v)
	}
	if v := r.UE(); v != 3 {
		t.Errorf("UE = %d, want 3", v)
	}
	if v := r.SE(); v != -1 {
		t.Errorf("SE = %d, want -1", v)
	}
	if r.Err() {
		t.Fatal("Err within the data")
	}
	r.Skip(2)
	if !r.Err() || r.U(1) != 0 {
		t.Error("reading past the end: no Err, or not zero")
	}
	long := NewReader(make([]byte, 8)) // 64 zero bits: no code ends
	if long.UE() != 0 || !long.Err() {
		t.Error("a code over 32 bits did not set Err")
	}
}
