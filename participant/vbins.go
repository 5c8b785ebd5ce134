package participant

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/secure/vertical"
)

// The binning of a vertical scorecard. Each data party bins its own
// columns on its own training rows with features.FitBinning, as a
// horizontal scorecard does: quantile cuts, missing values in a bin of
// their own, categorical columns (String, or listed in the spec's
// categorical) by category. The bank computes its WOE from its labels. The
// partner, which has no labels, fits the same structure and learns its
// bins' bad counts by the vertical bin-count product (vertical.BinPartner,
// over the relay, the helper dealing its correlation): it learns those
// aggregates and nothing else, and the bank learns only how many bins
// there are. Each fitted features.Pipeline is plain data kept beside the
// party's checkpoints (pipeline.json) and in its half of the model, so a
// resumed attempt trains on the same columns and scoring applies the same
// transform.

const pipelineFile = "pipeline.json"

// verticalBinning is what both sides take from the spec: the feature
// specs, the binning and the pipeline configuration. A vertical scorecard
// keeps every feature (MinIV 0, so the columns are the spec's, in order),
// has no segment crosses or derived features (a cross of the bank's
// columns would be possible, but the reference of issue 7 has none), and
// the partner cannot merge to a monotone event rate, since its cuts are
// fixed before it learns any count.
func verticalBinning(spec *fedscorepb.JobSpec, cols []string) ([]features.FeatureSpec, features.BinConfig, features.PipelineConfig, error) {
	var bc features.BinConfig
	var pc features.PipelineConfig
	if b := spec.GetBinConfig(); len(b) > 0 {
		if err := json.Unmarshal(b, &bc); err != nil {
			return nil, bc, pc, fmt.Errorf("participant: the job's bin config: %w", err)
		}
	}
	if b := spec.GetPipelineConfig(); len(b) > 0 {
		if err := json.Unmarshal(b, &pc); err != nil {
			return nil, bc, pc, fmt.Errorf("participant: the job's pipeline config: %w", err)
		}
	}
	pc.Encoding = features.WOE
	pc.MinIV = 0
	pc.Derived = nil
	pc.Crosses.Segmenters = -1
	specs := make([]features.FeatureSpec, len(cols))
	for j, c := range cols {
		specs[j] = features.FeatureSpec{Name: c, Categorical: slices.Contains(spec.GetCategorical(), c)}
	}
	return specs, bc, pc, nil
}

// fitBankPipeline bins the bank's training rows and computes their WOE
// from its labels.
func fitBankPipeline(train *datasets.Table, labels []float64, specs []features.FeatureSpec, bc features.BinConfig, pc features.PipelineConfig) (*features.Pipeline, error) {
	p, _, err := features.FitBinning([]*datasets.Table{train}, [][]float64{labels}, features.BinningJob{Specs: specs, Classes: 2, Bins: bc, Pipeline: pc})
	if err != nil {
		return nil, fmt.Errorf("participant: the bank's bins: %w", err)
	}
	return p, nil
}

// partnerBins is the partner's binning before it knows any count: the
// pipeline's structure, and the bins the product counts. A bin with fewer
// than vertical.MinBinCount training rows (a rare missing or "other" bin)
// is counted together with a neighbour, so that no count covers fewer
// rows than the protocol allows, and takes the group's WOE; an empty bin
// is counted nowhere and keeps WOE 0, as features does.
type partnerBins struct {
	pipe  *features.Pipeline
	rows  [][]int // training rows per bin, per feature
	group [][]int // counted bin of each bin, per feature
	sizes []int   // counted bins per feature
	// assign is the counted bin of every training row, per feature.
	assign [][]int
}

// fitPartnerBins fits the partner's cuts and categories on its training
// rows. features.FitBinning needs a label; the cut search and the merging
// of rare categories read only the rows per bin, so a placeholder label
// gives the same structure as any other (monotone merging, which reads the
// label, is off), and the placeholder's counts and WOE are replaced by the
// real ones in finish.
func fitPartnerBins(train *datasets.Table, specs []features.FeatureSpec, bc features.BinConfig, pc features.PipelineConfig) (*partnerBins, error) {
	pc.Monotone = false
	placeholder := make([]float64, train.Rows())
	for i := range placeholder {
		placeholder[i] = float64(i % 2)
	}
	p, _, err := features.FitBinning([]*datasets.Table{train}, [][]float64{placeholder}, features.BinningJob{Specs: specs, Classes: 2, Bins: bc, Pipeline: pc})
	if err != nil {
		return nil, fmt.Errorf("participant: the partner's bins: %w", err)
	}
	bins, err := p.Assign(train)
	if err != nil {
		return nil, err
	}
	pb := &partnerBins{pipe: p, rows: make([][]int, len(p.Features)), group: make([][]int, len(p.Features)),
		sizes: make([]int, len(p.Features)), assign: make([][]int, len(p.Features))}
	for j, f := range p.Features {
		rows := make([]int, len(f.Bins))
		for _, b := range bins[j] {
			rows[b]++
		}
		groups, err := countedBins(rows, vertical.MinBinCount)
		if err != nil {
			return nil, fmt.Errorf("participant: the partner's feature %q: %w", f.Name, err)
		}
		gof := make([]int, len(rows))
		for g, members := range groups {
			for _, b := range members {
				gof[b] = g
			}
		}
		a := make([]int, len(bins[j]))
		for i, b := range bins[j] {
			a[i] = gof[b]
		}
		pb.rows[j], pb.group[j], pb.sizes[j], pb.assign[j] = rows, gof, len(groups), a
	}
	return pb, nil
}

// countedBins groups the non-empty bins (in bin order) so that every group
// holds at least minRows rows, merging the smallest group with its next
// neighbour (the previous one for the last) until none is too small.
// Empty bins belong to no group's rows but are listed in group 0.
func countedBins(rows []int, minRows int) ([][]int, error) {
	var groups [][]int
	var sizes []int
	var empty []int
	for b, r := range rows {
		if r == 0 {
			empty = append(empty, b)
			continue
		}
		groups = append(groups, []int{b})
		sizes = append(sizes, r)
	}
	for {
		worst := -1
		for g, s := range sizes {
			if s < minRows && (worst < 0 || s < sizes[worst]) {
				worst = g
			}
		}
		if worst < 0 {
			break
		}
		if len(groups) == 1 {
			return nil, fmt.Errorf("%d training rows, fewer than the %d a counted bin needs", sizes[0], minRows)
		}
		into := worst + 1
		if into == len(groups) {
			into = worst - 1
		}
		lo, hi := min(worst, into), max(worst, into)
		groups[lo] = append(groups[lo], groups[hi]...)
		slices.Sort(groups[lo])
		sizes[lo] += sizes[hi]
		groups = slices.Delete(groups, hi, hi+1)
		sizes = slices.Delete(sizes, hi, hi+1)
	}
	if len(groups) == 0 {
		return nil, errors.New("no training rows")
	}
	groups[0] = append(groups[0], empty...)
	return groups, nil
}

// total is the number of counted bins over all features.
func (pb *partnerBins) total() int {
	n := 0
	for _, s := range pb.sizes {
		n += s
	}
	return n
}

// finish takes the product's rows and bad rows of every counted bin and
// returns the partner's fitted pipeline: each bin's good and bad counts
// (a bin counted with others gets its share of the group's, by rows), the
// WOE of its counted bin, and each feature's IV, by features.WOEIV with
// the pipeline's smoothing, as the bank's.
func (pb *partnerBins) finish(rows, bad []int) (*features.Pipeline, error) {
	if len(rows) != pb.total() || len(bad) != pb.total() {
		return nil, fmt.Errorf("participant: %d and %d counts for %d counted bins", len(rows), len(bad), pb.total())
	}
	p := clonePipeline(pb.pipe)
	base := 0
	for j := range p.Features {
		f := &p.Features[j]
		n := pb.sizes[j]
		grows := make([]int, n)
		for b, r := range pb.rows[j] {
			grows[pb.group[j][b]] += r
		}
		good, bd := make([]float64, n), make([]float64, n)
		for g := range n {
			if rows[base+g] != grows[g] || bad[base+g] < 0 || bad[base+g] > grows[g] {
				return nil, fmt.Errorf("participant: counted bin %d of %q: %d rows of which %d bad, the partner holds %d rows in it", g, f.Name, rows[base+g], bad[base+g], grows[g])
			}
			bd[g] = float64(bad[base+g])
			good[g] = float64(grows[g]) - bd[g]
		}
		woe, iv := features.WOEIV(good, bd, p.Smoothing)
		for b := range f.Bins {
			r := pb.rows[j][b]
			if r == 0 {
				f.Bins[b].Counts, f.Bins[b].WOE = []float64{0, 0}, 0
				continue
			}
			g := pb.group[j][b]
			share := float64(r) / float64(grows[g])
			f.Bins[b].Counts = []float64{good[g] * share, bd[g] * share}
			f.Bins[b].WOE = woe[g]
		}
		f.IV = iv
		base += n
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func clonePipeline(p *features.Pipeline) *features.Pipeline {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err) // a Pipeline is plain data
	}
	out := new(features.Pipeline)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

// transformMatrix is the pipeline's WOE columns of t as the protocol's
// matrix.
func transformMatrix(p *features.Pipeline, t *datasets.Table) (vertical.Matrix, error) {
	x, err := p.Transform(t)
	if err != nil {
		return vertical.Matrix{}, err
	}
	r, c := x.Dims()
	return vertical.Matrix{Rows: r, Cols: c, Data: x.RawMatrix().Data}, nil
}

func savePipeline(dir string, p *features.Pipeline) error {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(dir, pipelineFile), b)
}

// loadPipeline reads the party's fitted binning of an earlier attempt; nil
// if it has none.
func loadPipeline(dir string) (*features.Pipeline, error) {
	b, err := os.ReadFile(filepath.Join(dir, pipelineFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := features.ParsePipeline(b)
	if err != nil {
		return nil, fmt.Errorf("participant: %s: %w", filepath.Join(dir, pipelineFile), err)
	}
	return p, nil
}

// tableIDs returns the id column of t as strings, refusing nulls and
// duplicates.
func tableIDs(t *datasets.Table, col, source string) ([]string, error) {
	c := t.Column(col)
	if c == nil {
		return nil, fmt.Errorf("participant: %s has no id column %q", source, col)
	}
	ids := make([]string, c.Len())
	seen := make(map[string]int, len(ids))
	for i := range ids {
		if c.IsNull(i) {
			return nil, fmt.Errorf("participant: %s: id %q is null in row %d", source, col, i)
		}
		id := c.Format(i)
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("participant: %s: id %q appears twice, in rows %d and %d", source, id, j, i)
		}
		seen[id] = i
		ids[i] = id
	}
	return ids, nil
}
