package testenv

import "testing"

func TestParsePSNR(t *testing.T) {
	for _, c := range []struct {
		out  string
		want float64
		ok   bool
	}{
		{"frame=  240 fps=0.0 q=-0.0 Lsize=N/A\n[Parsed_psnr_4 @ 0x55d0c0a0b2c0] PSNR y:41.08 u:44.71 v:45.11 average:42.05 min:39.96 max:44.12\n", 42.05, true},
		{"[Parsed_psnr_2 @ 0x1] PSNR y:inf u:inf v:inf average:inf min:inf max:inf\n", 100, true},
		{"Error opening input files: No such file or directory\n", 0, false},
		{"[Parsed_psnr_2 @ 0x1] PSNR y:1 u:1 v:1 average:x min:1 max:1\n", 0, false},
	} {
		got, err := parsePSNR([]byte(c.out))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parsePSNR(%q) = %v, %v; want %v (ok %v)", c.out, got, err, c.want, c.ok)
		}
	}
}
