package pipeline

import "testing"

// TestLadderScalerReusesRepeats: a repeat (the frame clock filling a hole
// with the previous picture) gets the last scaled pictures again, timed
// at its own PTS, instead of being scaled again; a new picture is scaled.
func TestLadderScalerReusesRepeats(t *testing.T) {
	plan := Plan(DefaultLadder(), 1280, 720)
	s := newLadderScaler(plan, 1280, 720, false)
	defer s.close()
	pic := decodedPicture(t, 1280, 720)
	defer pic.Release()

	first, err := s.scale(pic, false)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(first)
	again := pic.Clone()
	defer again.Release()
	again.SetPTS(pic.PTS() + 3000)
	repeat, err := s.scale(again, true)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(repeat)
	fresh, err := s.scale(again, false)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(fresh)
	for i, r := range plan {
		if !repeat[i].SharesPixels(first[i]) {
			t.Errorf("%s: the repeat was scaled again", r.Name)
		}
		if repeat[i].PTS() != again.PTS() || first[i].PTS() != pic.PTS() {
			t.Errorf("%s: repeat at %d, first at %d; want %d and %d", r.Name, repeat[i].PTS(), first[i].PTS(), again.PTS(), pic.PTS())
		}
		if r.OutHeight < 720 && fresh[i].SharesPixels(first[i]) {
			t.Errorf("%s: a new picture reused the last one's pixels", r.Name)
		}
	}
}
