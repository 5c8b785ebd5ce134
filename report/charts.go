package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"github.com/fedscore/fedscore/models/eval"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	blue  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	red   = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	grey  = color.RGBA{R: 150, G: 150, B: 150, A: 255}
	green = color.RGBA{R: 44, G: 160, B: 44, A: 255}
)

func finitePoint(x, y float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0) && !math.IsNaN(y) && !math.IsInf(y, 0)
}

// xys keeps the finite points.
func xys(x, y []float64) plotter.XYs {
	var out plotter.XYs
	for i := range x {
		if finitePoint(x[i], y[i]) {
			out = append(out, plotter.XY{X: x[i], Y: y[i]})
		}
	}
	return out
}

type series struct {
	name  string
	pts   plotter.XYs
	color color.Color
	dash  bool
	step  bool
	dots  bool
}

// save draws the series into dir/file and returns file, or "" if no series
// has two points.
func save(dir, file, title, xlabel, ylabel string, ss ...series) (string, error) {
	return saveAt(dir, file, title, xlabel, ylabel, true, ss...)
}

// saveAt is save with the legend at the top left (topLeft) or the bottom
// right.
func saveAt(dir, file, title, xlabel, ylabel string, topLeft bool, ss ...series) (string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewGrid())
	drawn := 0
	for _, s := range ss {
		if len(s.pts) < 1 || (len(s.pts) < 2 && !s.dots) {
			continue
		}
		l, err := plotter.NewLine(s.pts)
		if err != nil {
			return "", fmt.Errorf("report: %s: %w", file, err)
		}
		l.Color = s.color
		l.Width = vg.Points(1.5)
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			l.Width = vg.Points(1)
		}
		if s.step {
			l.StepStyle = plotter.MidStep
		}
		p.Add(l)
		if s.dots {
			sc, err := plotter.NewScatter(s.pts)
			if err != nil {
				return "", fmt.Errorf("report: %s: %w", file, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: s.color, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
			p.Add(sc)
		}
		if s.name != "" {
			p.Legend.Add(s.name, l)
		}
		if !s.dash {
			drawn++
		}
	}
	if drawn == 0 {
		return "", nil
	}
	p.Legend.Top = topLeft
	p.Legend.Left = topLeft
	if err := p.Save(6*vg.Inch, 4*vg.Inch, filepath.Join(dir, file)); err != nil {
		return "", fmt.Errorf("report: %s: %w", file, err)
	}
	return file, nil
}

// scoreAxis maps a probability to the x axis of score charts: scorecard
// points when there is a scorecard (falling as the probability rises:
// decreasing), log-odds otherwise.
func scoreAxis(r Report) (toX func(p float64) float64, label string, decreasing bool) {
	if s := r.Scorecard; s != nil && s.Factor > 0 {
		return s.ScoreOf, "score (points)", true
	}
	return func(p float64) float64 { return math.Log(p / (1 - p)) }, "predicted log-odds", false
}

func drawCharts(dir string, r Report) (map[string]string, error) {
	out := map[string]string{}
	put := func(name, file string, err error) error {
		if err != nil {
			return err
		}
		out[name] = file
		return nil
	}
	if t := r.Test; t != nil {
		toX, xlabel, decreasing := scoreAxis(r)
		if roc, err := t.Hist.ROC(); err == nil {
			var fx, fy []float64
			for _, pt := range roc {
				fx, fy = append(fx, pt.FPR), append(fy, pt.TPR)
			}
			auc, _ := t.Hist.AUC()
			f, err := saveAt(dir, ROCFile, fmt.Sprintf("ROC curve (AUC %s)", num(auc, 4)), "false positive rate", "true positive rate", false,
				series{name: "model", pts: xys(fx, fy), color: blue},
				series{pts: plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}}, color: grey, dash: true})
			if err := put("roc", f, err); err != nil {
				return nil, err
			}
		}
		if ks, err := t.Hist.KSCurve(); err == nil {
			var x, pos, neg []float64
			for _, pt := range ks {
				cp, cn := pt.CumPos, pt.CumNeg
				if decreasing { // share scoring at or below x
					cp, cn = 1-cp, 1-cn
				}
				x, pos, neg = append(x, toX(pt.Threshold)), append(pos, cp), append(neg, cn)
			}
			v, _ := t.Hist.KS()
			f, err := saveAt(dir, KSFile, fmt.Sprintf("KS curve (KS %s)", num(v, 4)), xlabel, "cumulative share", decreasing,
				series{name: "events (bads)", pts: xys(x, pos), color: red},
				series{name: "non-events (goods)", pts: xys(x, neg), color: blue})
			if err := put("ks", f, err); err != nil {
				return nil, err
			}
		}
		if f, err := scoreDistribution(dir, t, toX, xlabel); err != nil {
			return nil, err
		} else {
			out["scores"] = f
		}
		if d, err := t.Deciles(10); err == nil {
			var px, py []float64
			top := 0.0
			for _, g := range d {
				if g.Rows > 0 {
					px, py = append(px, g.MeanScore), append(py, g.Rate)
					top = max(top, g.MeanScore, g.Rate)
				}
			}
			f, err := save(dir, CalibrationFile, "Calibration by decile", "mean predicted probability", "observed rate",
				series{name: "deciles", pts: xys(px, py), color: blue, dots: true},
				series{pts: plotter.XYs{{X: 0, Y: 0}, {X: top, Y: top}}, color: grey, dash: true})
			if err := put("calibration", f, err); err != nil {
				return nil, err
			}
		}
	}
	if len(r.Rounds) > 0 {
		var x, loss, auc, vloss []float64
		for _, rd := range r.Rounds {
			x = append(x, float64(rd.Round))
			loss, auc, vloss = append(loss, rd.TrainLoss), append(auc, rd.ValAUC), append(vloss, rd.ValLoss)
		}
		f, err := save(dir, TrainingLossFile, "Loss by round", "round", "log loss",
			series{name: "training", pts: xys(x, loss), color: blue, dots: true},
			series{name: "validation", pts: xys(x, vloss), color: green, dots: true})
		if err := put("training_loss", f, err); err != nil {
			return nil, err
		}
		f, err = save(dir, TrainingAUCFile, "Validation AUC by round", "round", "AUC",
			series{name: "validation AUC", pts: xys(x, auc), color: red, dots: true})
		if err := put("training_auc", f, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// scoreDistribution draws the share of goods and of bads in about 40
// buckets of the populated score range.
func scoreDistribution(dir string, t *eval.BinarySummary, toX func(float64) float64, xlabel string) (string, error) {
	h := t.Hist
	bins := h.Bins()
	lo, hi := -1, -1
	var pos, neg float64
	for k := range bins {
		if h.Pos[k]+h.Neg[k] > 0 {
			if lo < 0 {
				lo = k
			}
			hi = k
		}
		pos += h.Pos[k]
		neg += h.Neg[k]
	}
	if lo < 0 || pos == 0 || neg == 0 {
		return "", nil
	}
	width := max(1, (hi-lo+1+39)/40)
	var x, bads, goods []float64
	for start := lo; start <= hi; start += width {
		end := min(start+width, hi+1)
		var p, q float64
		for k := start; k < end; k++ {
			p += h.Pos[k]
			q += h.Neg[k]
		}
		mid := eval.Edge(start, bins) + (eval.Edge(end, bins)-eval.Edge(start, bins))/2
		x, bads, goods = append(x, toX(mid)), append(bads, p/pos), append(goods, q/neg)
	}
	return save(dir, ScoresFile, "Score distribution", xlabel, "share of class",
		series{name: "bads (events)", pts: xys(x, bads), color: red, step: true},
		series{name: "goods (non-events)", pts: xys(x, goods), color: blue, step: true})
}
