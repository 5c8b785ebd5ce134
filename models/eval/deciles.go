package eval

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Decile is one group of a lift, gain and calibration table: the rows
// ranked by score from the highest, cut into groups of equal size.
type Decile struct {
	Group     int     // 1 holds the highest scores
	Rows      float64 // rows in the group
	Positives float64
	MeanScore float64 // mean predicted probability (calibration: predicted)
	Rate      float64 // observed positive rate (calibration: observed)
	Lift      float64 // Rate over the overall positive rate
	CumGain   float64 // share of all positives in groups 1..Group
	CumLift   float64 // CumGain over the share of rows in groups 1..Group
}

// unit is a set of rows that ranking cannot separate: tied scores, or one
// histogram bin.
type unit struct {
	score          float64 // for sorting only
	rows, pos, sum float64 // rows, positives, sum of scores
}

// decileTable cuts units, highest score first, into groups of equal
// size. A unit that straddles a boundary is shared out pro rata: its rows,
// positives and score sum split in the proportion of its rows on either
// side. This is the only order-free way to cut tied rows, and it makes the
// histogram version the exact one with bins in place of ties.
func decileTable(units []unit, groups int) ([]Decile, error) {
	if groups < 1 {
		return nil, fmt.Errorf("eval: %d groups", groups)
	}
	var N, P float64
	for _, u := range units {
		N += u.rows
		P += u.pos
	}
	if N == 0 {
		return nil, errors.New("eval: no rows")
	}
	out := make([]Decile, groups)
	for g := range out {
		out[g].Group = g + 1
	}
	g := 0
	var filled float64 // rows placed so far
	for _, u := range units {
		left := u.rows
		for left > 0 {
			take := left
			if g < groups-1 {
				room := N*float64(g+1)/float64(groups) - filled
				if room <= 0 {
					g++
					continue
				}
				take = min(left, room)
			}
			f := take / u.rows
			d := &out[g]
			d.Rows += take
			d.Positives += f * u.pos
			d.MeanScore += f * u.sum
			filled += take
			left -= take
		}
	}
	rate := 0.0
	if P > 0 {
		rate = P / N
	}
	var cumPos, cumRows float64
	for i := range out {
		d := &out[i]
		cumPos += d.Positives
		cumRows += d.Rows
		if d.Rows > 0 {
			d.MeanScore /= d.Rows
			d.Rate = d.Positives / d.Rows
		}
		if rate > 0 {
			d.Lift = d.Rate / rate
			d.CumGain = cumPos / P
			if cumRows > 0 {
				d.CumLift = d.CumGain / (cumRows / N)
			}
		}
	}
	return out, nil
}

// Deciles returns the exact lift, gain and calibration table of
// probabilities against labels in groups of equal size (10 for deciles),
// highest probabilities first. Tied probabilities that straddle a group
// boundary are shared out pro rata (see Decile). With no positives every
// lift and gain is 0.
func Deciles(probs, labels []float64, groups int) ([]Decile, error) {
	if _, err := checkInputs(probs, labels, true); err != nil {
		return nil, err
	}
	type pl struct{ p, y float64 }
	xs := make([]pl, len(probs))
	for i, p := range probs {
		xs[i] = pl{p, labels[i]}
	}
	slices.SortFunc(xs, func(a, b pl) int { return cmp.Compare(b.p, a.p) })
	var units []unit
	for i := 0; i < len(xs); {
		u := unit{score: xs[i].p}
		j := i
		for ; j < len(xs) && xs[j].p == xs[i].p; j++ {
			u.rows++
			u.pos += xs[j].y
			u.sum += xs[j].p
		}
		units = append(units, u)
		i = j
	}
	return decileTable(units, groups)
}

// Deciles returns the lift, gain and calibration table from the summary:
// as the exact Deciles with each histogram bin in place of a group of ties,
// so the two agree up to how bins that straddle a group boundary are
// shared out.
func (s BinarySummary) Deciles(groups int) ([]Decile, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	var units []unit
	for k := len(s.SumProb) - 1; k >= 0; k-- {
		n := s.Hist.Pos[k] + s.Hist.Neg[k]
		if n == 0 {
			continue
		}
		units = append(units, unit{rows: n, pos: s.Hist.Pos[k], sum: s.SumProb[k]})
	}
	return decileTable(units, groups)
}
