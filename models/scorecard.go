package models

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
)

// ScorecardVersion is the version of the Scorecard layout.
const ScorecardVersion = 1

// Scorecard defaults: 600 points at good:bad odds of 50:1, and 20 points
// to double the odds.
const (
	DefaultBaseScore = 600
	DefaultBaseOdds  = 50
	DefaultPDO       = 20
)

// ScorecardConfig scales a scorecard. Zero fields take the defaults.
type ScorecardConfig struct {
	BaseScore float64 `json:"base_score"` // score at BaseOdds
	BaseOdds  float64 `json:"base_odds"`  // good:bad odds at BaseScore
	PDO       float64 `json:"pdo"`        // points to double the odds
}

func (c ScorecardConfig) withDefaults() (ScorecardConfig, error) {
	if c.BaseScore == 0 {
		c.BaseScore = DefaultBaseScore
	}
	if c.BaseOdds == 0 {
		c.BaseOdds = DefaultBaseOdds
	}
	if c.PDO == 0 {
		c.PDO = DefaultPDO
	}
	if !finite(c.BaseScore) || !(c.BaseOdds > 0) || !finite(c.BaseOdds) || !(c.PDO > 0) || !finite(c.PDO) {
		return c, fmt.Errorf("models: scorecard scaling %+v: need a finite base score and positive finite odds and PDO", c)
	}
	return c, nil
}

// Scorecard turns a logistic regression on WOE inputs into points per bin.
// It is plain data (JSON) and holds its binning Pipeline, so a participant
// can score raw tables with it alone.
//
// With Factor = PDO/ln 2 and Offset = BaseScore - Factor·ln(BaseOdds), the
// score of a row is Offset + Factor·ln(odds of good) = Offset - Factor·z,
// where z = b + Σ_j w_j·WOE_j is the model's log-odds of the event (bad).
// It is split into points per feature and bin,
//
//	points_{j,bin} = -Factor·w_j·WOE_{j,bin} + (Offset - Factor·b)/d,
//
// over the d selected features, so a row's score is the sum of its bins'
// points and higher scores mean lower risk.
//
// A cross characteristic of the pipeline (features.Cross: a feature's bins
// inside one segment) is a feature of the scorecard like any other, with
// points per bin; a row outside its segment falls in its outside bin
// (WOE 0) and gets the intercept's share alone. Reason codes, though, name
// characteristics as the applicant knows them: a feature and its cross
// characteristics are one characteristic (see ReasonIndex).
type Scorecard struct {
	Version   int                `json:"version"`
	BaseScore float64            `json:"base_score"`
	BaseOdds  float64            `json:"base_odds"`
	PDO       float64            `json:"pdo"`
	Factor    float64            `json:"factor"`
	Offset    float64            `json:"offset"`
	Intercept float64            `json:"intercept"`
	Features  []ScorecardFeature `json:"features"`
	Pipeline  *features.Pipeline `json:"pipeline"`
}

// ScorecardFeature holds one feature's points.
type ScorecardFeature struct {
	Name string `json:"name"`
	// Index is the feature's position in Pipeline.Features.
	Index  int     `json:"index"`
	Weight float64 `json:"weight"`
	// Points per bin of the pipeline feature, in its bin order.
	Points []float64 `json:"points"`
	// Best is the most points any bin with training rows gives: reason
	// codes measure points lost against it. For a cross characteristic it
	// is the best over its feature's bins, the outside bin excluded.
	Best float64 `json:"best"`
}

// NewScorecard builds the scorecard of model m trained on the WOE output
// of p (m's weights in p's column order).
func NewScorecard(p *features.Pipeline, m *Logistic, c ScorecardConfig) (*Scorecard, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Encoding != features.WOE {
		return nil, fmt.Errorf("models: scorecard needs a WOE pipeline, have %q", p.Encoding)
	}
	if m == nil || m.Dim() != p.NumColumns() {
		return nil, fmt.Errorf("models: scorecard: model and pipeline disagree on the number of inputs")
	}
	if _, err := checkParams(m.Params()); err != nil {
		return nil, err
	}
	sel := p.Selected()
	if len(sel) == 0 {
		return nil, errors.New("models: scorecard: no selected features")
	}
	s := &Scorecard{
		Version: ScorecardVersion, BaseScore: c.BaseScore, BaseOdds: c.BaseOdds, PDO: c.PDO,
		Factor: c.PDO / math.Ln2, Intercept: m.Intercept, Pipeline: p,
	}
	s.Offset = c.BaseScore - s.Factor*math.Log(c.BaseOdds)
	share := (s.Offset - s.Factor*m.Intercept) / float64(len(sel))
	for _, j := range sel {
		f := &p.Features[j]
		w := m.Weights[f.Column]
		sf := ScorecardFeature{Name: f.Name, Index: j, Weight: w, Points: make([]float64, len(f.Bins)), Best: math.Inf(-1)}
		for b, bin := range f.Bins {
			sf.Points[b] = -s.Factor*w*bin.WOE + share
			if bin.Total() > 0 && b != f.OutsideBin() {
				sf.Best = max(sf.Best, sf.Points[b])
			}
		}
		if math.IsInf(sf.Best, -1) { // no bin has rows: cannot happen after FitPipeline
			sf.Best = share
		}
		s.Features = append(s.Features, sf)
	}
	return s, s.Validate()
}

func checkParams(p []float64) (int, error) {
	for i, v := range p {
		if !finite(v) {
			return i, fmt.Errorf("models: parameter %d is %v", i, v)
		}
	}
	return 0, nil
}

// Validate checks a Scorecard decoded from elsewhere: version, scaling,
// its pipeline, and finite points for every bin of each referenced feature.
func (s *Scorecard) Validate() error {
	if s == nil {
		return errors.New("models: nil scorecard")
	}
	if s.Version != ScorecardVersion {
		return fmt.Errorf("models: scorecard version %d, want %d", s.Version, ScorecardVersion)
	}
	if !finite(s.Factor) || !finite(s.Offset) || !finite(s.Intercept) {
		return errors.New("models: scorecard scaling is not finite")
	}
	if err := s.Pipeline.Validate(); err != nil {
		return err
	}
	for _, f := range s.Features {
		if f.Index < 0 || f.Index >= len(s.Pipeline.Features) || s.Pipeline.Features[f.Index].Name != f.Name {
			return fmt.Errorf("models: scorecard feature %q is not in its pipeline", f.Name)
		}
		if len(f.Points) != len(s.Pipeline.Features[f.Index].Bins) {
			return fmt.Errorf("models: scorecard feature %q has %d points for %d bins", f.Name, len(f.Points), len(s.Pipeline.Features[f.Index].Bins))
		}
		for _, v := range f.Points {
			if !finite(v) {
				return fmt.Errorf("models: scorecard feature %q has points %v", f.Name, v)
			}
		}
		if !finite(f.Best) || !finite(f.Weight) {
			return fmt.Errorf("models: scorecard feature %q is not finite", f.Name)
		}
	}
	return nil
}

// PD returns the probability of the event (default) at a score.
func (s *Scorecard) PD(score float64) float64 {
	return sigmoid((s.Offset - score) / s.Factor)
}

// ScoreOf returns the score at an event probability, the inverse of PD.
func (s *Scorecard) ScoreOf(pd float64) float64 {
	return s.Offset - s.Factor*math.Log(pd/(1-pd))
}

// Reason is one reason code: a feature whose bin cost points against the
// feature's best bin.
type Reason struct {
	Feature string  `json:"feature"`
	Bin     string  `json:"bin"`
	Points  float64 `json:"points"`
	Lost    float64 `json:"lost"`
}

// Scored is a scored row.
type Scored struct {
	Score   float64  `json:"score"`
	PD      float64  `json:"pd"`
	Reasons []Reason `json:"reasons,omitempty"`
}

// Score scores every row of t: its points, its PD, and up to reasons
// reason codes, the characteristics that lost the most points against
// their best bin, largest loss first (ties in feature order; see
// ReasonIndex). A characteristic at its best bin is never a reason. Missing
// values and unseen categories score as the pipeline assigns them (missing
// bin, "other" bin).
func (s *Scorecard) Score(t *datasets.Table, reasons int) ([]Scored, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	need := make([]bool, len(s.Pipeline.Features))
	for _, f := range s.Features {
		need[f.Index] = true
	}
	all, err := s.Pipeline.AssignSome(t, need)
	if err != nil {
		return nil, err
	}
	n := -1
	bins := make([][]int, len(s.Features))
	for q, f := range s.Features {
		bins[q] = all[f.Index]
		if n >= 0 && len(bins[q]) != n {
			return nil, fmt.Errorf("models: scorecard: column %q has %d rows, another %d", f.Name, len(bins[q]), n)
		}
		n = len(bins[q])
	}
	if n < 0 {
		n = t.Rows()
	}
	x := s.ReasonIndex()
	out := make([]Scored, n)
	row := make([]int, len(s.Features))
	for i := range out {
		for q := range s.Features {
			row[q] = bins[q][i]
		}
		out[i] = s.scoreBins(x, row, reasons)
	}
	return out, nil
}

// ScoreBins scores one row given its bin in each scorecard feature, in
// Features order.
func (s *Scorecard) ScoreBins(bins []int, reasons int) (Scored, error) {
	if len(bins) != len(s.Features) {
		return Scored{}, fmt.Errorf("models: scorecard: %d bins for %d features", len(bins), len(s.Features))
	}
	for q, b := range bins {
		if b < 0 || b >= len(s.Features[q].Points) {
			return Scored{}, fmt.Errorf("models: scorecard: bin %d out of range for %q", b, s.Features[q].Name)
		}
	}
	return s.scoreBins(s.ReasonIndex(), bins, reasons), nil
}

func (s *Scorecard) scoreBins(x *ReasonIndex, bins []int, reasons int) Scored {
	var sc Scored
	for q, b := range bins {
		sc.Score += s.Features[q].Points[b]
	}
	var rs []Reason
	if reasons > 0 {
		for g := range x.groups {
			pts, lost, bin := x.row(g, bins)
			if lost > 0 {
				rs = append(rs, Reason{Feature: x.groups[g].name, Bin: x.groups[g].labels[bin], Points: pts, Lost: lost})
			}
		}
	}
	sc.PD = s.PD(sc.Score)
	if len(rs) > 0 {
		slices.SortStableFunc(rs, func(a, b Reason) int { return cmp.Compare(b.Lost, a.Lost) })
		sc.Reasons = rs[:min(reasons, len(rs))]
	}
	return sc
}

// ReasonIndex groups a scorecard's features into the characteristics that
// reason codes name. A feature of the pipeline and its cross
// characteristics (the same feature inside segments of other ones) are one
// characteristic, named after the feature: for a row, its points are the
// sum of its features' points, and the points it lost are
//
//	max over the feature's bins v with training rows of P(v)  -  P(row's bin),
//
// where P(v) is what the row would score from the characteristic at bin v,
// its segments unchanged: the feature's points at v plus, for every cross
// characteristic whose segment holds the row, that cross's points at v (a
// cross whose segment does not hold the row adds its outside points,
// whatever v). So a reason says how many points the value of, say, the
// balance cost an applicant given the segments the applicant is in, and a
// characteristic without crosses loses Best - Points as it always did.
// Characteristics are ordered by their first feature in the scorecard.
type ReasonIndex struct {
	groups []reasonGroup
}

type reasonGroup struct {
	name    string
	base    int   // scorecard index of the feature itself, -1 if it is not in the scorecard
	crosses []int // scorecard indexes of its cross characteristics
	labels  []string
	rows    []bool // the feature's bins with training rows
	points  [][]float64
	outside []int // outside bin of each cross
	best    float64
	// Crosses of one segmenter exclude each other, so the set of crosses
	// holding a row is one digit per segmenter (0: none, k: its k-th
	// cross). weight[c] is cross c's digit times its segmenter's stride,
	// so a row's set is the sum of its active crosses' weights, and
	// bestIn[set] is the best P(v) over v of the terms that vary with v.
	segmenter []string
	weight    []int
	bestIn    []float64
}

// ReasonIndex returns the scorecard's reason index. s must be valid.
func (s *Scorecard) ReasonIndex() *ReasonIndex {
	x := &ReasonIndex{}
	at := map[string]int{}
	group := func(name string) *reasonGroup {
		g, ok := at[name]
		if !ok {
			g = len(x.groups)
			at[name] = g
			x.groups = append(x.groups, reasonGroup{name: name, base: -1})
			if pf := s.Pipeline.Feature(name); pf != nil {
				rg := &x.groups[g]
				for _, b := range pf.Bins {
					rg.labels = append(rg.labels, b.Label)
					rg.rows = append(rg.rows, b.Total() > 0)
				}
			}
		}
		return &x.groups[g]
	}
	for q := range s.Features {
		f := &s.Features[q]
		pf := &s.Pipeline.Features[f.Index]
		if pf.Cross == nil {
			g := group(f.Name)
			g.base, g.best = q, f.Best
			if len(g.labels) == 0 {
				for _, b := range pf.Bins {
					g.labels = append(g.labels, b.Label)
					g.rows = append(g.rows, b.Total() > 0)
				}
			}
			continue
		}
		g := group(pf.Cross.Feature)
		g.crosses = append(g.crosses, q)
		g.outside = append(g.outside, pf.OutsideBin())
		g.segmenter = append(g.segmenter, pf.Cross.Segmenter)
	}
	for i := range x.groups {
		g := &x.groups[i]
		if len(g.labels) == 0 { // a cross of a feature missing from the pipeline: Validate forbids it
			g.crosses = nil
		}
		if g.base >= 0 {
			g.points = append(g.points, s.Features[g.base].Points)
		}
		for _, q := range g.crosses {
			g.points = append(g.points, s.Features[q].Points)
		}
		g.tabulate()
	}
	return x
}

// tabulate fills weight and bestIn, so a row's lost points need no pass
// over the bins.
func (g *reasonGroup) tabulate() {
	if len(g.crosses) == 0 {
		return
	}
	slot := map[string]int{}
	var count []int // crosses per segmenter
	g.weight = make([]int, len(g.crosses))
	digit := make([]int, len(g.crosses))
	which := make([]int, len(g.crosses))
	for c, name := range g.segmenter {
		k, ok := slot[name]
		if !ok {
			k = len(count)
			slot[name] = k
			count = append(count, 0)
		}
		count[k]++
		digit[c], which[c] = count[k], k
	}
	stride := make([]int, len(count))
	sets := 1
	for k, n := range count {
		stride[k] = sets
		sets *= n + 1
	}
	for c := range g.crosses {
		g.weight[c] = digit[c] * stride[which[c]]
	}
	first := 0
	if g.base >= 0 {
		first = 1
	}
	g.bestIn = make([]float64, sets)
	for set := range sets {
		best := math.Inf(-1)
		for v, ok := range g.rows {
			if !ok {
				continue
			}
			var pv float64
			if g.base >= 0 {
				pv = g.points[0][v]
			}
			for c := range g.crosses {
				if set/stride[which[c]]%(count[which[c]]+1) == digit[c] {
					pv += g.points[first+c][v]
				}
			}
			best = max(best, pv)
		}
		g.bestIn[set] = best
	}
}

// Len is the number of characteristics.
func (x *ReasonIndex) Len() int { return len(x.groups) }

// Name is the name of characteristic g.
func (x *ReasonIndex) Name(g int) string { return x.groups[g].name }

// Row returns, for a row whose bin in each scorecard feature is bins (in
// Features order), the points characteristic g gives it and the points it
// lost against the characteristic's best bin (a reason only if positive).
func (x *ReasonIndex) Row(g int, bins []int) (points, lost float64) {
	p, l, _ := x.row(g, bins)
	return p, l
}

// row also returns the row's bin of the characteristic's feature.
func (x *ReasonIndex) row(g int, bins []int) (points, lost float64, bin int) {
	rg := &x.groups[g]
	if len(rg.crosses) == 0 {
		if rg.base < 0 {
			return 0, 0, 0
		}
		b := bins[rg.base]
		p := rg.points[0][b]
		return p, rg.best - p, b
	}
	// The points at bin v, segments fixed: the feature's own and those of
	// the crosses holding the row vary with v; the others are constant.
	var fixed float64
	bin = -1
	first, set := 0, 0
	if rg.base >= 0 {
		bin = bins[rg.base]
		points = rg.points[0][bin]
		first = 1
	}
	for c, q := range rg.crosses {
		b := bins[q]
		if b == rg.outside[c] {
			fixed += rg.points[first+c][b]
			continue
		}
		bin = b
		points += rg.points[first+c][b]
		set += rg.weight[c]
	}
	if bin < 0 {
		return fixed, 0, 0
	}
	best := rg.bestIn[set]
	if math.IsInf(best, -1) {
		return points + fixed, 0, bin
	}
	return points + fixed, best - points, bin
}
