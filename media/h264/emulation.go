package h264

// RemoveEmulationPrevention returns the RBSP of a NAL unit: every 00 00 03
// becomes 00 00. It returns b itself when there is nothing to remove.
func RemoveEmulationPrevention(b []byte) []byte {
	zeros, i := 0, 0
	for ; i < len(b); i++ {
		if zeros >= 2 && b[i] == 3 {
			break
		}
		if b[i] == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	if i == len(b) {
		return b
	}
	out := make([]byte, 0, len(b))
	zeros = 0
	for _, c := range b {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
