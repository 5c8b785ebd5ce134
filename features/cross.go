package features

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/datasets"
)

// Cross-characteristic defaults, used where CrossConfig leaves a field 0.
const (
	DefaultSegmenters   = 3
	DefaultMaxSegments  = 6
	DefaultSegmenterIV  = 0.1
	DefaultMinClassRows = 100
	DefaultCrossPrior   = 30
)

// PipelineVersion1 is the layout of pipelines without cross
// characteristics, which FitPipeline writes and every reader accepts.
const PipelineVersion1 = 1

// CrossConfig configures segment crosses (binary WOE pipelines only; a
// one-hot pipeline never has them). See "Segment crosses" in the package
// documentation for what they are and why.
type CrossConfig struct {
	// Segmenters is the most characteristics to segment by. 0 means
	// DefaultSegmenters; negative turns crosses off.
	Segmenters int `json:"segmenters,omitempty"`
	// MaxSegments is the most bins with training rows a segmenting
	// characteristic may have (0 means DefaultMaxSegments): segments are
	// the bins of a coarse characteristic, such as a payment status or a
	// product type, not of a fine one.
	MaxSegments int `json:"max_segments,omitempty"`
	// MinIV is the least information value of a segmenting characteristic
	// (0 means DefaultSegmenterIV, the conventional line of a "medium"
	// predictor); negative means no minimum.
	MinIV float64 `json:"min_iv,omitempty"`
	// MinClassRows is the least number of training rows of each class a
	// bin needs to become a segment (0 means DefaultMinClassRows); a
	// segmenter needs two such bins. Thin bins keep the portfolio's
	// scorecard alone.
	MinClassRows float64 `json:"min_class_rows,omitempty"`
	// Prior is the number of pseudo-rows, at the bin's event rate over all
	// rows, added to each cross bin before its weight of evidence is
	// taken (0 means DefaultCrossPrior). See SegmentWOE.
	Prior float64 `json:"prior,omitempty"`
}

func (c CrossConfig) withDefaults() (CrossConfig, error) {
	if c.MaxSegments < 0 || math.IsNaN(c.MinIV) || !(c.MinClassRows >= 0) || !(c.Prior >= 0) ||
		math.IsInf(c.MinClassRows, 0) || math.IsInf(c.Prior, 0) {
		return c, fmt.Errorf("features: cross configuration %+v out of range", c)
	}
	if c.Segmenters == 0 {
		c.Segmenters = DefaultSegmenters
	}
	if c.MaxSegments == 0 {
		c.MaxSegments = DefaultMaxSegments
	}
	if c.MinIV == 0 {
		c.MinIV = DefaultSegmenterIV
	}
	if c.MinClassRows == 0 {
		c.MinClassRows = DefaultMinClassRows
	}
	if c.Prior == 0 {
		c.Prior = DefaultCrossPrior
	}
	return c, nil
}

// Cross marks a BinnedFeature as a cross characteristic: Feature's bins
// for the rows in bin Segment of Segmenter, both features of the same
// Pipeline that are not crosses themselves. Its bins are Feature's bins
// (same order and labels), then one bin for the rows outside the segment,
// whose weight of evidence is 0 and which is never a reason code.
type Cross struct {
	Feature   string `json:"feature"`
	Segmenter string `json:"segmenter"`
	Segment   int    `json:"segment"`
}

// OutsideLabel labels the bin of a cross characteristic that holds the rows
// outside its segment.
const OutsideLabel = "(outside segment)"

// CrossName names the cross characteristic of feature in a segment, e.g.
// "LIMIT_BAL | PAY_0: 1".
func CrossName(feature, segmenter, segmentLabel string) string {
	return feature + " | " + segmenter + ": " + segmentLabel
}

// OutsideBin is the index of the bin of a cross characteristic that holds
// the rows outside its segment, -1 for any other feature.
func (f *BinnedFeature) OutsideBin() int {
	if f.Cross == nil {
		return -1
	}
	return len(f.Bins) - 1
}

// CrossPlan is what the coordinator sends participants for the crossing
// collection: the segmenters with their segments (bin indexes), and the
// characteristics to cross with each (a segmenter is not crossed with
// itself). It fixes the layout of the count vector (Len): segmenter after
// segmenter, segment after segment, crossed feature after crossed feature,
// one count per bin (the feature's own bins, the missing bin included) and
// class.
type CrossPlan struct {
	Segmenters []CrossSegmenter `json:"segmenters"`
	Crossed    []string         `json:"crossed"`
}

// CrossSegmenter is one segmenting characteristic of a CrossPlan.
type CrossSegmenter struct {
	Feature  string `json:"feature"`
	Segments []int  `json:"segments"`
}

// PlanCrosses chooses the segmenters of a fitted pipeline (see CrossConfig)
// and returns the plan of the crossing collection, or nil when there is
// nothing to cross: crosses are off, the pipeline is not a binary WOE
// pipeline, already has crosses, or no characteristic qualifies.
func PlanCrosses(p *Pipeline, c PipelineConfig) (*CrossPlan, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cc, err := c.Crosses.withDefaults()
	if err != nil {
		return nil, err
	}
	if cc.Segmenters < 0 || p.Encoding != WOE || p.Classes != 2 || p.hasCrosses() {
		return nil, nil
	}
	type cand struct {
		j        int
		segments []int
	}
	var cands []cand
	var crossed []string
	for j := range p.Features {
		f := &p.Features[j]
		if !f.Selected {
			continue
		}
		crossed = append(crossed, f.Name)
		if f.IV < cc.MinIV {
			continue
		}
		withRows := 0
		var segs []int
		for b, bin := range f.Bins {
			if bin.Total() > 0 {
				withRows++
			}
			if bin.Counts[0] >= cc.MinClassRows && bin.Counts[1] >= cc.MinClassRows {
				segs = append(segs, b)
			}
		}
		if withRows <= cc.MaxSegments && len(segs) >= 2 {
			cands = append(cands, cand{j, segs})
		}
	}
	if len(cands) == 0 || len(crossed) < 2 {
		return nil, nil
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(p.Features[b.j].IV, p.Features[a.j].IV) })
	cp := &CrossPlan{Crossed: crossed}
	for _, c := range cands[:min(len(cands), cc.Segmenters)] {
		cp.Segmenters = append(cp.Segmenters, CrossSegmenter{Feature: p.Features[c.j].Name, Segments: c.segments})
	}
	return cp, cp.Validate(p)
}

func (p *Pipeline) hasCrosses() bool {
	for j := range p.Features {
		if p.Features[j].Cross != nil {
			return true
		}
	}
	return false
}

// crossBlock is one (segmenter, segment, crossed feature) block of a
// crossing count vector.
type crossBlock struct {
	seg, segment, x int // pipeline feature indexes of the segmenter and the crossed feature; segment is a bin of seg
	off, bins       int // where the block starts; the crossed feature's bins
}

// blocks lays out the count vector of cp against p.
func (cp *CrossPlan) blocks(p *Pipeline) ([]crossBlock, int, error) {
	if cp == nil {
		return nil, 0, errors.New("features: nil cross plan")
	}
	index := map[string]int{}
	for j := range p.Features {
		if p.Features[j].Cross == nil {
			index[p.Features[j].Name] = j
		}
	}
	var xs []int
	seen := map[string]bool{}
	for _, name := range cp.Crossed {
		j, ok := index[name]
		if !ok || seen[name] {
			return nil, 0, fmt.Errorf("features: cross plan: crossed feature %q is not in the pipeline or repeated", name)
		}
		seen[name] = true
		xs = append(xs, j)
	}
	var out []crossBlock
	n := 0
	segSeen := map[string]bool{}
	for _, s := range cp.Segmenters {
		sj, ok := index[s.Feature]
		if !ok || segSeen[s.Feature] {
			return nil, 0, fmt.Errorf("features: cross plan: segmenter %q is not in the pipeline or repeated", s.Feature)
		}
		segSeen[s.Feature] = true
		if len(s.Segments) == 0 {
			return nil, 0, fmt.Errorf("features: cross plan: segmenter %q has no segments", s.Feature)
		}
		for i, b := range s.Segments {
			if b < 0 || b >= len(p.Features[sj].Bins) || (i > 0 && b <= s.Segments[i-1]) {
				return nil, 0, fmt.Errorf("features: cross plan: segmenter %q: segments %v are not increasing bins", s.Feature, s.Segments)
			}
			for _, xj := range xs {
				if xj == sj {
					continue
				}
				nb := len(p.Features[xj].Bins)
				out = append(out, crossBlock{seg: sj, segment: b, x: xj, off: n, bins: nb})
				n += nb * p.Classes
			}
		}
	}
	return out, n, nil
}

// Validate checks cp against the pipeline it crosses.
func (cp *CrossPlan) Validate(p *Pipeline) error {
	_, _, err := cp.blocks(p)
	return err
}

// Len is the length of the crossing count vector of cp against p.
func (cp *CrossPlan) Len(p *Pipeline) (int, error) {
	_, n, err := cp.blocks(p)
	return n, err
}

// CountCrosses is the participant's crossing step: the number of rows of
// each class in each bin of each crossed feature, inside each segment of
// each segmenter, laid out as CrossPlan describes. Like CountBins it needs
// the training labels (0/1), returns exact integer counts that add across
// disjoint row sets, and errs on a missing feature column.
func CountCrosses(t *datasets.Table, labels []float64, p *Pipeline, cp *CrossPlan) ([]float64, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	blocks, n, err := cp.blocks(p)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errors.New("features: nil table")
	}
	t, err = p.Prepare(t)
	if err != nil {
		return nil, err
	}
	if err := checkLabels(labels, t.Rows(), p.Classes); err != nil {
		return nil, err
	}
	need := make([]bool, len(p.Features))
	for _, b := range blocks {
		need[b.seg], need[b.x] = true, true
	}
	bins, err := p.assign(t, need)
	if err != nil {
		return nil, err
	}
	out := make([]float64, n)
	k := p.Classes
	for _, b := range blocks {
		sb, xb := bins[b.seg], bins[b.x]
		for i, y := range labels {
			if sb[i] == b.segment {
				out[b.off+xb[i]*k+int(y)]++
			}
		}
	}
	return out, nil
}

// SegmentWOE returns the weight of evidence of each bin of a characteristic
// inside one segment, and its information value there, from the segment's
// goods and bads per bin and the bin's goods and bads over all rows
// (parentGood, parentBad). Each bin's event rate over all rows, smoothed
// with alpha pseudo-rows at the overall rate as in WOEIV,
//
//	q_b = (parentBad_b + α·P) / (parentGood_b + parentBad_b + α),  P the overall event rate,
//
// is the prior of the bin inside the segment, weighted as prior rows:
//
//	g'_b = good_b + m(1-q_b), d'_b = bad_b + m·q_b,
//	WOE_b = ln( (g'_b/Σg') / (d'_b/Σd') ),
//	IV    = Σ_b (g'_b/Σg' - d'_b/Σd')·WOE_b   over bins with rows in the segment.
//
// A bin with many rows in the segment keeps its own evidence; a thin one
// leans on its portfolio rate; a bin without rows in the segment has WOE
// exactly 0 (no evidence), as in WOEIV. m must be positive; the result is
// all zeros if the parent counts hold a single class.
func SegmentWOE(good, bad, parentGood, parentBad []float64, alpha, m float64) (woe []float64, iv float64) {
	nb := len(good)
	woe = make([]float64, nb)
	if len(bad) != nb || len(parentGood) != nb || len(parentBad) != nb {
		return woe, 0
	}
	G, D := sum(parentGood), sum(parentBad)
	if !(G > 0 && D > 0) || !(alpha >= 0) || !(m > 0) {
		return woe, 0
	}
	P := D / (G + D)
	gs, ds := make([]float64, nb), make([]float64, nb)
	var Gs, Ds float64
	for b := range nb {
		q := P
		if n := parentGood[b] + parentBad[b] + alpha; n > 0 {
			q = (parentBad[b] + alpha*P) / n
		}
		gs[b], ds[b] = good[b]+m*(1-q), bad[b]+m*q
		Gs += gs[b]
		Ds += ds[b]
	}
	for b := range nb {
		if good[b]+bad[b] == 0 {
			continue
		}
		g, d := gs[b]/Gs, ds[b]/Ds
		woe[b] = math.Log(g / d)
		iv += (g - d) * woe[b]
	}
	return woe, max(iv, 0)
}

// AddCrosses is the coordinator's last binning step when crossing: from
// the pipeline, the plan and the summed CountCrosses vectors it appends
// the cross characteristics, a BinnedFeature with a Cross per segmenter,
// segment and crossed feature, in the plan's order. Each gets its weights
// of evidence and information value inside the segment (SegmentWOE with
// the pipeline's smoothing and c.Crosses.Prior), is selected if that value
// reaches c.MinIV, and selected ones get the next WOE columns, after the
// pipeline's own. The result is a new pipeline of version PipelineVersion;
// p is not modified.
func AddCrosses(p *Pipeline, cp *CrossPlan, counts []float64, c PipelineConfig) (*Pipeline, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.Encoding != WOE || p.Classes != 2 {
		return nil, errors.New("features: crosses need a binary WOE pipeline")
	}
	if p.hasCrosses() {
		return nil, errors.New("features: the pipeline has crosses already")
	}
	c, err := c.withDefaults(p.Classes)
	if err != nil {
		return nil, err
	}
	cc, err := c.Crosses.withDefaults()
	if err != nil {
		return nil, err
	}
	blocks, n, err := cp.blocks(p)
	if err != nil {
		return nil, err
	}
	if err := checkCounts(counts, n); err != nil {
		return nil, err
	}
	out := p.clone()
	out.Version = PipelineVersion
	col := out.NumColumns()
	for _, b := range blocks {
		x, s := &p.Features[b.x], &p.Features[b.seg]
		f := BinnedFeature{
			Name:   CrossName(x.Name, s.Name, s.Bins[b.segment].Label),
			Cross:  &Cross{Feature: x.Name, Segmenter: s.Name, Segment: b.segment},
			Column: -1,
		}
		good, bad := make([]float64, b.bins), make([]float64, b.bins)
		pg, pb := make([]float64, b.bins), make([]float64, b.bins)
		var outside [2]float64
		for v := range b.bins {
			good[v], bad[v] = counts[b.off+2*v], counts[b.off+2*v+1]
			pg[v], pb[v] = x.Bins[v].Counts[0], x.Bins[v].Counts[1]
			if good[v] > pg[v] || bad[v] > pb[v] {
				return nil, fmt.Errorf("features: cross %q: bin %d counts %v/%v rows in the segment but %v/%v in all", f.Name, v, good[v], bad[v], pg[v], pb[v])
			}
			outside[0] += pg[v] - good[v]
			outside[1] += pb[v] - bad[v]
		}
		woe, iv := SegmentWOE(good, bad, pg, pb, c.Smoothing, cc.Prior)
		for v := range b.bins {
			f.Bins = append(f.Bins, Bin{Label: x.Bins[v].Label, Counts: []float64{good[v], bad[v]}, WOE: woe[v], Column: -1})
		}
		f.Bins = append(f.Bins, Bin{Label: OutsideLabel, Counts: outside[:], Column: -1})
		f.IV = iv
		f.Selected = iv >= c.MinIV
		if f.Selected {
			f.Column = col
			col++
		}
		out.Features = append(out.Features, f)
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// clone returns a deep copy of p.
func (p *Pipeline) clone() *Pipeline {
	out := *p
	out.Derived = slices.Clone(p.Derived)
	for i := range out.Derived {
		out.Derived[i].Inputs = slices.Clone(out.Derived[i].Inputs)
	}
	out.Features = make([]BinnedFeature, len(p.Features))
	for j, f := range p.Features {
		f.Cuts = slices.Clone(f.Cuts)
		f.Categories = slices.Clone(f.Categories)
		f.Merged = slices.Clone(f.Merged)
		if f.Cross != nil {
			cr := *f.Cross
			f.Cross = &cr
		}
		bins := make([]Bin, len(f.Bins))
		for b, bin := range f.Bins {
			bin.Counts = slices.Clone(bin.Counts)
			bins[b] = bin
		}
		f.Bins = bins
		out.Features[j] = f
	}
	return &out
}

// validateCross checks cross characteristic f of p: its feature and
// segmenter are features of p that are not crosses, the segment is one of
// the segmenter's bins, and f has the feature's bins plus the outside one,
// labelled alike, the outside bin with WOE 0.
func (p *Pipeline) validateCross(f *BinnedFeature) error {
	cr := f.Cross
	if p.Version < PipelineVersion {
		return fmt.Errorf("features: pipeline version %d cannot hold cross characteristic %q", p.Version, f.Name)
	}
	if p.Encoding != WOE || p.Classes != 2 {
		return fmt.Errorf("features: cross characteristic %q in a pipeline that is not binary WOE", f.Name)
	}
	x, s := p.Feature(cr.Feature), p.Feature(cr.Segmenter)
	if x == nil || s == nil || x.Cross != nil || s.Cross != nil || x == s {
		return fmt.Errorf("features: cross characteristic %q: feature %q or segmenter %q is not a plain feature of the pipeline", f.Name, cr.Feature, cr.Segmenter)
	}
	if cr.Segment < 0 || cr.Segment >= len(s.Bins) {
		return fmt.Errorf("features: cross characteristic %q: segment %d out of range", f.Name, cr.Segment)
	}
	if len(f.Cuts) > 0 || len(f.Categories) > 0 || f.Categorical {
		return fmt.Errorf("features: cross characteristic %q has cuts or categories of its own", f.Name)
	}
	if len(f.Bins) != len(x.Bins)+1 {
		return fmt.Errorf("features: cross characteristic %q has %d bins, want %d", f.Name, len(f.Bins), len(x.Bins)+1)
	}
	for b := range x.Bins {
		if f.Bins[b].Label != x.Bins[b].Label {
			return fmt.Errorf("features: cross characteristic %q bin %d is labelled %q, its feature's %q", f.Name, b, f.Bins[b].Label, x.Bins[b].Label)
		}
	}
	if o := f.Bins[len(f.Bins)-1]; o.WOE != 0 || o.Column >= 0 {
		return fmt.Errorf("features: cross characteristic %q: the outside bin must have WOE 0 and no column", f.Name)
	}
	return nil
}
