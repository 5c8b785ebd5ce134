package features

import (
	"errors"
	"fmt"

	"github.com/fedscore/fedscore/datasets"
)

// BinningJob is everything both sides of the binning protocol agree on
// before it starts: the features, the number of classes, and the
// configuration.
type BinningJob struct {
	Specs    []FeatureSpec
	Classes  int // 2 for a binary label
	Bins     BinConfig
	Pipeline PipelineConfig
	// DiscoveryRows is the threshold of Describe (0: DefaultDiscoveryRows).
	DiscoveryRows int
}

// derived returns the job's derived features: the Pipeline config's.
func (j BinningJob) derived() []Derived { return j.Pipeline.Derived }

// BinningTrace records what the protocol exchanged, for logs and tests.
type BinningTrace struct {
	// CountRounds is the number of counting rounds run.
	CountRounds int
	// VectorLens are the lengths of the summed vectors, moments first,
	// then each counting round's, then the crossing collection's if any.
	VectorLens []int
	// Crosses is the crossing plan, nil if nothing was crossed.
	Crosses *CrossPlan
}

// FitBinning runs the whole binning protocol in process over the parts of
// a data set, one table and label vector per participant (a single part
// is the pooled baseline), and returns the fitted Pipeline. It is the
// reference for how a coordinator and participants wire the steps:
//
//  0. each participant derives the job's derived features (Derive);
//  1. discovery and moments: each participant sends Describe (names only)
//     and ColumnMoments (summed); the coordinator calls NewBinPlan;
//  2. counting, repeated: each participant sends CountBins for the current
//     plan (summed); the coordinator calls Refine, until it reports done
//     (at most BinConfig.MaxRounds rounds);
//  3. the coordinator calls FitPipeline on the last plan and its sum;
//  4. crossing, for a binary WOE pipeline: the coordinator calls
//     PlanCrosses on it; unless that returns nil, each participant sends
//     CountCrosses for the plan (summed) and the coordinator calls
//     AddCrosses.
//
// Because every summed vector holds exact integer counts (moments only
// seed the first plan), the result is identical however the rows are
// split.
func FitBinning(parts []*datasets.Table, labels [][]float64, job BinningJob) (*Pipeline, BinningTrace, error) {
	var tr BinningTrace
	if len(parts) == 0 || len(parts) != len(labels) {
		return nil, tr, fmt.Errorf("features: %d tables and %d label vectors", len(parts), len(labels))
	}
	if ds := job.derived(); len(ds) > 0 {
		prepared := make([]*datasets.Table, len(parts))
		for i, t := range parts {
			d, err := Derive(t, ds)
			if err != nil {
				return nil, tr, fmt.Errorf("participant %d: %w", i, err)
			}
			prepared[i] = d
		}
		parts = prepared
	}
	var descs []Description
	var moments []float64
	for i, t := range parts {
		d, err := Describe(t, job.Specs, job.DiscoveryRows)
		if err != nil {
			return nil, tr, fmt.Errorf("participant %d: %w", i, err)
		}
		descs = append(descs, d)
		m, err := ColumnMoments(t, job.Specs)
		if err != nil {
			return nil, tr, fmt.Errorf("participant %d: %w", i, err)
		}
		moments = addVec(moments, m)
	}
	tr.VectorLens = append(tr.VectorLens, len(moments))
	plan, err := NewBinPlan(job.Specs, descs, moments, job.Classes, job.Bins)
	if err != nil {
		return nil, tr, err
	}
	for {
		var total []float64
		for i, t := range parts {
			c, err := CountBins(t, labels[i], plan)
			if err != nil {
				return nil, tr, fmt.Errorf("participant %d: %w", i, err)
			}
			total = addVec(total, c)
		}
		tr.CountRounds++
		tr.VectorLens = append(tr.VectorLens, len(total))
		next, done, err := Refine(plan, total)
		if err != nil {
			return nil, tr, err
		}
		if done {
			p, err := FitPipeline(plan, total, job.Pipeline)
			if err != nil {
				return nil, tr, err
			}
			return fitCrosses(parts, labels, p, job, &tr)
		}
		if next == nil {
			return nil, tr, errors.New("features: refine returned no plan")
		}
		plan = next
	}
}

func addVec(acc, v []float64) []float64 {
	if acc == nil {
		return append([]float64(nil), v...)
	}
	for i := range acc {
		acc[i] += v[i]
	}
	return acc
}

// fitCrosses runs the crossing step of FitBinning.
func fitCrosses(parts []*datasets.Table, labels [][]float64, p *Pipeline, job BinningJob, tr *BinningTrace) (*Pipeline, BinningTrace, error) {
	cp, err := PlanCrosses(p, job.Pipeline)
	if err != nil || cp == nil {
		return p, *tr, err
	}
	var total []float64
	for i, t := range parts {
		c, err := CountCrosses(t, labels[i], p, cp)
		if err != nil {
			return nil, *tr, fmt.Errorf("participant %d: %w", i, err)
		}
		total = addVec(total, c)
	}
	tr.VectorLens = append(tr.VectorLens, len(total))
	tr.Crosses = cp
	out, err := AddCrosses(p, cp, total, job.Pipeline)
	return out, *tr, err
}
