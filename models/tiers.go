package models

import (
	"errors"
	"fmt"
	"math"

	"github.com/fedscore/fedscore/models/eval"
)

// DefaultTierNames are the tier names used when TierConfig.Names is empty.
var DefaultTierNames = []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J"}

// TierConfig configures score-band tiers.
type TierConfig struct {
	// Tiers is the number of tiers wanted; 0 means 5.
	Tiers int `json:"tiers"`
	// Names names the tiers, best first; empty means A, B, C, ...
	Names []string `json:"names,omitempty"`
	// HighFirst puts the highest scores in the first tier, as for a
	// marketing propensity (tier A responds most). Otherwise the first
	// tier holds the lowest scores, as for a probability of default
	// (tier A is the safest).
	HighFirst bool `json:"high_first"`
	// MinShare is the smallest share of rows a tier may hold; 0 means
	// 1/(4·Tiers).
	MinShare float64 `json:"min_share"`
	// EqualShares cuts tiers of about equal population instead of
	// maximising their separation (see FitTiers).
	EqualShares bool `json:"equal_shares,omitempty"`
}

// Tiering cuts a probability (of default, or of response) into ordered
// tiers whose observed event rates are strictly monotone. It is plain data
// (JSON).
//
// It is fitted from a summed eval.ScoreHistogram, so it can be fitted
// federated: cuts sit at histogram bin edges, and Tier assigns a score by
// the same binning.
type Tiering struct {
	Names     []string `json:"names"` // best first; one per tier
	HighFirst bool     `json:"high_first"`
	Bins      int      `json:"bins"` // histogram bins the cuts refer to
	// Starts[i] is the first histogram bin of the i-th tier in ascending
	// score order (Starts[0] = 0).
	Starts []int `json:"starts"`
	// Thresholds[i] is the probability where the (i+1)-th tier in
	// ascending score order begins: len(Starts)-1 entries.
	Thresholds []float64 `json:"thresholds"`
	// Per tier, in Names order: training rows, events, event rate.
	Rows      []float64 `json:"rows"`
	Positives []float64 `json:"positives"`
	Rate      []float64 `json:"rate"`
}

// FitTiers fits tiers from a score histogram of held-out (or training)
// predictions, summed over participants.
//
// By default it chooses the cuts that make adjacent tiers most distinct:
// among cuts at the histogram bin edges nearest the population quantiles
// 2.5%, 5%, ..., 97.5%, it maximises, by dynamic programming, the smallest
// two-proportion z statistic between the event rates of adjacent tiers,
// with every tier holding at least MinShare of the rows. Flat stretches of
// the rate curve, where a cut would separate nothing and noise could
// reverse the order on new data, thus fall inside a tier. With EqualShares
// it cuts tiers of about equal population instead (nearest edges to the
// quantiles i/Tiers, at least MinShare each).
//
// Then, ascending in score, it merges adjacent tiers by pool-adjacent-
// violators until the event rate strictly increases with the score: a tier
// whose rate does not exceed the one below joins it. So the rates are
// strictly monotone, but there may be fewer tiers than asked when the data
// cannot support more; the names are then the first ones. It returns an
// error for an empty histogram and too few names.
func FitTiers(h eval.ScoreHistogram, c TierConfig) (*Tiering, error) {
	if c.Tiers == 0 {
		c.Tiers = 5
	}
	names := c.Names
	if len(names) == 0 {
		names = DefaultTierNames
	}
	if c.Tiers < 1 || c.Tiers > len(names) {
		return nil, fmt.Errorf("models: %d tiers with %d names", c.Tiers, len(names))
	}
	if c.MinShare == 0 {
		c.MinShare = 1 / (4 * float64(c.Tiers))
	}
	if !(c.MinShare >= 0 && c.MinShare < 1) {
		return nil, fmt.Errorf("models: tier minimum share %v", c.MinShare)
	}
	b := h.Bins()
	if b == 0 || len(h.Neg) != b {
		return nil, errors.New("models: tiers: histogram has no bins")
	}
	rows := make([]float64, b)
	var N float64
	for k := range b {
		if !(h.Pos[k] >= 0 && h.Neg[k] >= 0) || math.IsInf(h.Pos[k]+h.Neg[k], 1) {
			return nil, fmt.Errorf("models: tiers: histogram bin %d has invalid counts", k)
		}
		rows[k] = h.Pos[k] + h.Neg[k]
		N += rows[k]
	}
	if N == 0 {
		return nil, errors.New("models: tiers: empty histogram")
	}
	// cum[k] = rows in bins below k, for k = 0..b; cumPos likewise.
	cum, cumPos := make([]float64, b+1), make([]float64, b+1)
	for k := range b {
		cum[k+1] = cum[k] + rows[k]
		cumPos[k+1] = cumPos[k] + h.Pos[k]
	}
	var starts []int
	if c.EqualShares {
		starts = equalCuts(cum, N, c)
	} else {
		starts = separatedCuts(cum, cumPos, N, c)
	}
	type tier struct{ start, end int } // bins [start, end)
	var ts []tier
	for i, s := range starts {
		end := b
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		ts = append(ts, tier{s, end})
	}
	stat := func(t tier) (n, p float64) {
		for k := t.start; k < t.end; k++ {
			n += rows[k]
			p += h.Pos[k]
		}
		return n, p
	}
	// Pool adjacent violators, strictly increasing rate with the score.
	var st []tier
	for _, t := range ts {
		st = append(st, t)
		for len(st) >= 2 {
			a, z := st[len(st)-2], st[len(st)-1]
			na, pa := stat(a)
			nz, pz := stat(z)
			if na > 0 && nz > 0 && pz/nz > pa/na {
				break
			}
			st = append(st[:len(st)-2], tier{a.start, z.end})
		}
	}
	out := &Tiering{HighFirst: c.HighFirst, Bins: b}
	for i, t := range st {
		out.Starts = append(out.Starts, t.start)
		if i > 0 {
			out.Thresholds = append(out.Thresholds, eval.Edge(t.start, b))
		}
	}
	n := len(st)
	out.Names = append([]string(nil), names[:n]...)
	out.Rows, out.Positives, out.Rate = make([]float64, n), make([]float64, n), make([]float64, n)
	for i, t := range st {
		r, p := stat(t)
		q := out.order(i)
		out.Rows[q], out.Positives[q] = r, p
		if r > 0 {
			out.Rate[q] = p / r
		}
	}
	return out, nil
}

// order maps a tier's position in ascending score order to its position
// in Names order.
func (t *Tiering) order(i int) int {
	if t.HighFirst {
		return len(t.Starts) - 1 - i
	}
	return i
}

// Tier returns the index, in Names, of the tier of probability p, or -1
// if p is NaN or outside [0, 1].
func (t *Tiering) Tier(p float64) int {
	if !(p >= 0 && p <= 1) || t.Validate() != nil {
		return -1
	}
	k := eval.BinOf(p, t.Bins)
	i := 0
	for i+1 < len(t.Starts) && k >= t.Starts[i+1] {
		i++
	}
	return t.order(i)
}

// Name returns the name of the tier of p, or "" if p is not a probability.
func (t *Tiering) Name(p float64) string {
	i := t.Tier(p)
	if i < 0 || i >= len(t.Names) {
		return ""
	}
	return t.Names[i]
}

// equalCuts returns tier starts (histogram bins, the first 0) of about
// equal population: for each quantile i/Tiers the bin edge nearest it,
// leaving at least MinShare in every tier.
func equalCuts(cum []float64, N float64, c TierConfig) []int {
	b := len(cum) - 1
	starts := []int{0}
	prev := 0.0
	for i := 1; i < c.Tiers; i++ {
		t := float64(i) / float64(c.Tiers)
		if t <= prev {
			continue
		}
		best := -1
		for k := 1; k < b; k++ {
			f := cum[k] / N
			if f <= prev || f-prev < c.MinShare || 1-f < c.MinShare || cum[k] == cum[k-1] {
				continue
			}
			if best < 0 || math.Abs(f-t) < math.Abs(cum[best]/N-t) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		starts = append(starts, best)
		prev = cum[best] / N
	}
	return starts
}

// tierGrid is the step of the population quantiles separatedCuts may cut
// at.
const tierGrid = 0.025

// separatedCuts returns tier starts that maximise the smallest z statistic
// between adjacent tiers' event rates (see FitTiers). With fewer feasible
// candidates than tiers it returns as many tiers as fit.
func separatedCuts(cum, cumPos []float64, N float64, c TierConfig) []int {
	b := len(cum) - 1
	// Candidate cuts: the bin edge nearest each quantile on the grid.
	pts := []int{0}
	for q := tierGrid; q < 1-tierGrid/2; q += tierGrid {
		best := -1
		for k := 1; k < b; k++ {
			if cum[k] == cum[k-1] || cum[k] == 0 || cum[k] == N {
				continue
			}
			if best < 0 || math.Abs(cum[k]/N-q) < math.Abs(cum[best]/N-q) {
				best = k
			}
		}
		if best > pts[len(pts)-1] {
			pts = append(pts, best)
		}
	}
	pts = append(pts, b)
	P := len(pts)
	rowsOf := func(i, j int) float64 { return cum[pts[j]] - cum[pts[i]] }
	posOf := func(i, j int) float64 { return cumPos[pts[j]] - cumPos[pts[i]] }
	valid := func(i, j int) bool { return rowsOf(i, j)/N >= c.MinShare && rowsOf(i, j) > 0 }
	// z of the rate rise from tier [h, i) to tier [i, j).
	z := func(h, i, j int) float64 {
		n1, n2 := rowsOf(h, i), rowsOf(i, j)
		p1, p2 := posOf(h, i), posOf(i, j)
		p := (p1 + p2) / (n1 + n2)
		if p <= 0 || p >= 1 {
			return 0
		}
		return (p2/n2 - p1/n1) / math.Sqrt(p*(1-p)*(1/n1+1/n2))
	}
	for T := min(c.Tiers, P-1); T > 1; T-- {
		// f[a][j]: the best smallest z over tiers covering pts[0..j] whose
		// last tier is [a, j); -Inf if infeasible. from[t][a][j] is the
		// start of the tier before it.
		inf := math.Inf(-1)
		f := make([][]float64, P)
		for a := range f {
			f[a] = make([]float64, P)
			for j := range f[a] {
				f[a][j] = inf
			}
		}
		for j := 1; j < P; j++ {
			if valid(0, j) {
				f[0][j] = math.Inf(1)
			}
		}
		from := make([][][]int, T+1)
		for t := 2; t <= T; t++ {
			g := make([][]float64, P)
			from[t] = make([][]int, P)
			for a := range g {
				g[a] = make([]float64, P)
				from[t][a] = make([]int, P)
				for j := range g[a] {
					g[a][j] = inf
					from[t][a][j] = -1
				}
			}
			for a := 1; a < P; a++ {
				for j := a + 1; j < P; j++ {
					if !valid(a, j) {
						continue
					}
					for h := 0; h < a; h++ {
						if f[h][a] == inf {
							continue
						}
						v := min(f[h][a], z(h, a, j))
						if v > g[a][j] {
							g[a][j], from[t][a][j] = v, h
						}
					}
				}
			}
			f = g
		}
		best, bestA := inf, -1
		for a := 1; a < P-1; a++ {
			if f[a][P-1] > best {
				best, bestA = f[a][P-1], a
			}
		}
		if bestA < 0 {
			continue
		}
		// Walk back: the last tier is [bestA, P-1).
		idx := []int{bestA}
		a, j := bestA, P-1
		for t := T; t >= 2; t-- {
			h := from[t][a][j]
			if h > 0 {
				idx = append(idx, h)
			}
			a, j = h, a
		}
		starts := []int{0}
		for k := len(idx) - 1; k >= 0; k-- {
			starts = append(starts, pts[idx[k]])
		}
		return starts
	}
	return []int{0}
}

// Validate checks a Tiering decoded from elsewhere: one name, count and
// rate per tier, tier starts ascending from bin 0 within Bins, and one
// threshold per boundary.
func (t *Tiering) Validate() error {
	if t == nil {
		return errors.New("models: nil tiering")
	}
	n := len(t.Starts)
	if n == 0 || t.Bins < 1 || t.Starts[0] != 0 {
		return errors.New("models: tiering has no tiers")
	}
	if len(t.Names) != n || len(t.Rows) != n || len(t.Positives) != n || len(t.Rate) != n || len(t.Thresholds) != n-1 {
		return fmt.Errorf("models: tiering with %d tiers has %d names, %d thresholds", n, len(t.Names), len(t.Thresholds))
	}
	for i := 1; i < n; i++ {
		if t.Starts[i] <= t.Starts[i-1] || t.Starts[i] >= t.Bins {
			return fmt.Errorf("models: tiering starts %v out of order", t.Starts)
		}
	}
	return nil
}
