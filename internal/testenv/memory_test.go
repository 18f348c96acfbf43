package testenv

import "testing"

func TestRSS(t *testing.T) {
	r := RSS()
	p := PeakRSS() // read after: the peak can only have grown
	if r <= 0 || p < r {
		t.Errorf("RSS %d, peak %d", r, p)
	}
}

func TestParseProc(t *testing.T) {
	if got := parseStatmRSS("6000 1500 700 300 0 900 0\n", 4096); got != 1500*4096 {
		t.Errorf("statm RSS = %d", got)
	}
	if got := parseStatmRSS("", 4096); got != 0 {
		t.Errorf("empty statm RSS = %d", got)
	}
	status := "Name:\ttestenv.test\nVmPeak:\t 1262332 kB\nVmHWM:\t   25344 kB\nVmRSS:\t   25000 kB\n"
	if got := parseStatusKB(status, "VmHWM"); got != 25344<<10 {
		t.Errorf("VmHWM = %d", got)
	}
	if got := parseStatusKB(status, "VmSwap"); got != 0 {
		t.Errorf("missing VmSwap = %d", got)
	}
}
