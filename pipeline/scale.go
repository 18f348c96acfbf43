package pipeline

import (
	"cmp"
	"slices"

	"github.com/livestream/livestream/codec"
)

// ladderScaler makes every rendition's picture from one decoded picture,
// in the decode goroutine, the way the ffmpeg CLI's filter graph does:
// each scale reads a picture that was just written, so it is still in the
// core's cache, instead of three goroutines on two cores reading the
// decoded picture at three different times.
//
// By default the scales cascade: a rung is scaled from the smallest
// larger rung at least 1.5 times its height (480p and 360p from 720p),
// not from the source. swscale's cost grows with the input's area, so on
// a 1080p source this halves the cost of the lower rungs' scales; the
// pictures differ from direct scales by less than x264's rounding (above
// 53 dB PSNR), see README "The ladder". Config.DirectScaling scales every
// rung from the source, as the CLI does.
type ladderScaler struct {
	plan []Planned
	// order is the renditions largest first; from[i] is the rendition
	// whose picture rendition i is scaled from, -1 for the decoded one.
	order   []int
	from    []int
	scalers []*codec.Scaler
	// last holds a reference to each rendition's picture from the last
	// scale, for a repeat (a hole the frame clock fills) to reuse instead
	// of scaling the same picture again.
	last []*codec.Frame
}

func newLadderScaler(plan []Planned, srcW, srcH int, direct bool) *ladderScaler {
	s := &ladderScaler{plan: plan, from: make([]int, len(plan)), scalers: make([]*codec.Scaler, len(plan))}
	for i, p := range plan {
		s.order = append(s.order, i)
		s.scalers[i] = codec.NewScaler(p.OutWidth, p.OutHeight)
	}
	slices.SortStableFunc(s.order, func(a, b int) int { return -cmp.Compare(plan[a].OutHeight, plan[b].OutHeight) })
	for k, i := range s.order {
		s.from[i] = -1
		if direct {
			continue
		}
		for _, j := range s.order[:k] { // larger rungs, largest first: keep the last that fits
			pj := plan[j]
			smaller := pj.OutWidth < srcW || pj.OutHeight < srcH
			if smaller && 2*pj.OutHeight >= 3*plan[i].OutHeight && pj.OutWidth >= plan[i].OutWidth {
				s.from[i] = j
			}
		}
	}
	return s
}

// scale returns one picture per rendition, each the caller's to release;
// a rendition at the decoded picture's size and format gets a reference
// to it. f is not released. A repeat of the last picture (the same pixels
// at a later time) gets references to the last results, timed at f's PTS.
// On error nothing is left held.
func (s *ladderScaler) scale(f *codec.Frame, repeat bool) ([]*codec.Frame, error) {
	if repeat && s.last != nil {
		out := make([]*codec.Frame, len(s.last))
		for i, l := range s.last {
			out[i] = l.Clone()
			out[i].SetPTS(f.PTS())
		}
		return out, nil
	}
	out := make([]*codec.Frame, len(s.plan))
	for _, i := range s.order {
		src := f
		if j := s.from[i]; j >= 0 {
			src = out[j]
		}
		p := s.plan[i]
		if !codec.NeedsScaling(src, p.OutWidth, p.OutHeight) {
			out[i] = src.Clone()
			continue
		}
		pic, err := s.scalers[i].Scale(src)
		if err != nil {
			releaseAll(out)
			return nil, err
		}
		out[i] = pic
	}
	releaseAll(s.last)
	s.last = s.last[:0]
	for _, o := range out {
		s.last = append(s.last, o.Clone())
	}
	return out, nil
}

func releaseAll(fs []*codec.Frame) {
	for _, f := range fs {
		if f != nil {
			f.Release()
		}
	}
}

func (s *ladderScaler) close() {
	releaseAll(s.last)
	s.last = nil
	for _, sc := range s.scalers {
		sc.Close()
	}
}
