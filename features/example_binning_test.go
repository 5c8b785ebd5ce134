package features_test

import (
	"fmt"

	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
)

// Two participants bin a monthly income and a region. Each step's vector
// is summed by the coordinator; only sums are ever seen.
func Example_binningProtocol() {
	bank := &datasets.Table{Columns: []*datasets.Column{
		{Name: "income", Kind: datasets.Int, Float: []float64{1200, 1800, 2500, 3100, 4000, 5200, 900, 2200}},
		{Name: "region", Kind: datasets.String, String: []string{"north", "south", "north", "east", "south", "north", "south", "east"}},
	}}
	partner := &datasets.Table{Columns: []*datasets.Column{
		{Name: "income", Kind: datasets.Int, Float: []float64{1500, 2800, 3600, 4400, 700, 6100}},
		{Name: "region", Kind: datasets.String, String: []string{"east", "north", "south", "north", "south", "west"}},
	}}
	parts := []*datasets.Table{bank, partner}
	labels := [][]float64{{1, 1, 0, 0, 0, 0, 1, 0}, {1, 0, 0, 0, 1, 0}}
	specs := []features.FeatureSpec{{Name: "income"}, {Name: "region"}}

	// Discovery and moments.
	var descs []features.Description
	moments := make([]float64, features.MomentsLen(len(specs)))
	for _, t := range parts {
		d, _ := features.Describe(t, specs, 0)
		descs = append(descs, d)
		m, _ := features.ColumnMoments(t, specs)
		for i := range m {
			moments[i] += m[i]
		}
	}
	plan, err := features.NewBinPlan(specs, descs, moments, 2, features.BinConfig{Bins: 4, MinBinShare: 0.1})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Counting rounds.
	for {
		sum := make([]float64, plan.Len())
		for i, t := range parts {
			c, _ := features.CountBins(t, labels[i], plan)
			for j := range c {
				sum[j] += c[j]
			}
		}
		next, done, err := features.Refine(plan, sum)
		if err != nil {
			fmt.Println(err)
			return
		}
		if done {
			fmt.Printf("%d counting rounds\n", plan.Round)
			p, err := features.FitPipeline(plan, sum, features.PipelineConfig{MinCategoryRows: 2})
			if err != nil {
				fmt.Println(err)
				return
			}
			fmt.Print(p)
			return
		}
		plan = next
	}
	// Output:
	// 2 counting rounds
	// income IV=3.7822
	//   <= 1589                  n=4       rate=1.0000 woe=-3.1527
	//   1590 to 2659             n=3       rate=0.3333 woe=+0.0901
	//   2660 to 3819             n=3       rate=0.0000 woe=+2.3354
	//   >= 3820                  n=4       rate=0.0000 woe=+2.5986
	//   (missing)                n=0       rate=0.0000 woe=+0.0000
	// region IV=0.5717
	//   east                     n=3       rate=0.3333 woe=+0.0901
	//   north                    n=5       rate=0.2000 woe=+0.7115
	//   south                    n=5       rate=0.6000 woe=-0.9020
	//   (other)                  n=1       rate=0.0000 woe=+1.4137
	//   (missing)                n=0       rate=0.0000 woe=+0.0000
}
