// Package report writes a model report a risk analyst can read without the
// CLI: one index.html with tables (metrics, lift and calibration by decile,
// tiers, the binning table with WOE and IV, the scorecard points) and PNG
// charts drawn with gonum.org/v1/plot (ROC, KS curve, score distributions of
// goods and bads, calibration, training rounds). Cross characteristics
// (a characteristic's bins inside the segments of another, see
// features.Cross) get a section of their own: one table per characteristic
// and segmenter, with the bins down and the segments across.
//
// A Report is plain data the caller fills from a finished job; every part
// is optional, and a section without data says so rather than being left
// out. Numbers that are NaN or infinite are written as "n/a" and left out
// of charts, so a report never shows NaN.
package report

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
)

// Report is what a model report shows.
type Report struct {
	Title     string
	JobID     string
	Model     string // "scorecard", "logistic", "softmax", ...
	Dataset   string
	Generated string // when, as the caller wants it shown; the package reads no clock
	Notes     []string

	// MetricColumns name the columns of Metrics, e.g. "federated",
	// "pooled".
	MetricColumns []string
	Metrics       []Metric

	// Rounds is the training history, one entry per round.
	Rounds []Round

	// Test summarises the binary model's scores on the test set: ROC, KS
	// curve, score distributions, calibration, lift and gain.
	Test *eval.BinarySummary

	Pipeline  *features.Pipeline // the binning table
	Scorecard *models.Scorecard  // the points table; also scales score charts
	Tiers     *models.Tiering

	// Multiclass summarises a multi-class model on the test set; ClassNames
	// optionally names its classes.
	Multiclass *eval.MulticlassSummary
	ClassNames []string
}

// Metric is one row of the metrics table: a name and one value per
// MetricColumns entry (NaN for none).
type Metric struct {
	Name   string
	Values []float64
}

// Round is one training round. NaN marks a figure not measured.
type Round struct {
	Round     int
	TrainLoss float64
	ValAUC    float64
	ValLoss   float64
}

// Sections are the headings every report has, in order.
var Sections = []string{
	"Metrics", "ROC curve", "KS curve", "Score distribution", "Calibration",
	"Lift and gain", "Training rounds", "Score-band tiers", "Binning",
	"Cross characteristics", "Scorecard points", "Confusion matrix",
}

// Chart files Write may create.
const (
	ROCFile          = "roc.png"
	KSFile           = "ks.png"
	ScoresFile       = "scores.png"
	CalibrationFile  = "calibration.png"
	TrainingLossFile = "training_loss.png"
	TrainingAUCFile  = "training_auc.png"
)

// Write writes dir/index.html and the charts' PNG files, creating dir if
// needed. Charts without data are not written; the page says so.
func Write(dir string, r Report) error {
	if dir == "" {
		return errors.New("report: empty directory")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	charts, err := drawCharts(dir, r)
	if err != nil {
		return err
	}
	page, err := buildPage(r, charts)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, page); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp := filepath.Join(dir, ".index.html.tmp")
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "index.html")); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// num formats a number with prec decimals, "n/a" when not finite.
func num(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(v+0, 'f', prec, 64)
}

func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return strconv.FormatFloat(100*v+0, 'f', 2, 64) + "%"
}

// page is the template's view of a report: every number already a string.
type page struct {
	Title, JobID, Model, Dataset, Generated string
	Notes                                   []string
	MetricColumns                           []string
	Metrics                                 [][]string
	Charts                                  map[string]string // file per chart name, "" if not drawn
	Deciles                                 [][]string
	Rounds                                  [][]string
	Tiers                                   [][]string
	Binning                                 []binFeature
	Crosses                                 []crossView
	Scorecard                               *scoreView
	Confusion                               *confusionView
}

type binFeature struct {
	Name, IV, Selected, Note string
	Rows                     [][]string
}

// crossView is one characteristic crossed with one segmenter: per bin of
// the characteristic (Rows) and per segment, the rows, event rate, WOE and
// points of the cross characteristic.
type crossView struct {
	Feature, Segmenter string
	Segments           []crossSegment
	Rows               [][]string
}

type crossSegment struct {
	Label, Rows, Rate, IV, Weight, Outside string
}

type scoreView struct {
	Scaling  string
	Features []scoreFeature
}

type scoreFeature struct {
	Name, Weight string
	Rows         [][]string
}

type confusionView struct {
	Classes []string
	Rows    [][]string
	Summary [][]string
}

func buildPage(r Report, charts map[string]string) (*page, error) {
	p := &page{Title: r.Title, JobID: r.JobID, Model: r.Model, Dataset: r.Dataset, Generated: r.Generated, Notes: r.Notes, MetricColumns: r.MetricColumns, Charts: charts}
	if p.Title == "" {
		p.Title = "Model report"
	}
	for _, m := range r.Metrics {
		row := []string{m.Name}
		for i := range r.MetricColumns {
			v := math.NaN()
			if i < len(m.Values) {
				v = m.Values[i]
			}
			row = append(row, num(v, 4))
		}
		p.Metrics = append(p.Metrics, row)
	}
	if r.Test != nil {
		if d, err := r.Test.Deciles(10); err == nil {
			for _, g := range d {
				p.Deciles = append(p.Deciles, []string{strconv.Itoa(g.Group), num(g.Rows, 0), num(g.Positives, 1), pct(g.MeanScore), pct(g.Rate), num(g.Lift, 2), pct(g.CumGain), num(g.CumLift, 2)})
			}
		}
	}
	for _, rd := range r.Rounds {
		p.Rounds = append(p.Rounds, []string{strconv.Itoa(rd.Round), num(rd.TrainLoss, 5), num(rd.ValAUC, 4), num(rd.ValLoss, 5)})
	}
	if t := r.Tiers; t != nil {
		for i, name := range t.Names {
			lo, hi := tierRange(t, i)
			row := []string{name, pct(lo) + " to " + pct(hi), num(at(t.Rows, i), 0), num(at(t.Positives, i), 0), pct(at(t.Rate, i))}
			if sc := r.Scorecard; sc != nil {
				// Probabilities [lo, hi) are scores (ScoreOf(hi), ScoreOf(lo)].
				switch {
				case lo <= 0 && hi >= 1:
					row[1] += " (all scores)"
				case lo <= 0:
					row[1] += fmt.Sprintf(" (score above %s)", num(sc.ScoreOf(hi), 0))
				case hi >= 1:
					row[1] += fmt.Sprintf(" (score %s or below)", num(sc.ScoreOf(lo), 0))
				default:
					row[1] += fmt.Sprintf(" (score %s to %s)", num(sc.ScoreOf(hi), 0), num(sc.ScoreOf(lo), 0))
				}
			}
			p.Tiers = append(p.Tiers, row)
		}
	}
	if pl := r.Pipeline; pl != nil {
		p.Crosses = crossViews(pl, r.Scorecard)
		for _, f := range pl.Features {
			if f.Cross != nil {
				continue
			}
			bf := binFeature{Name: f.Name, IV: num(f.IV, 4), Selected: "yes"}
			if !f.Selected {
				bf.Selected = "no"
			}
			switch {
			case f.Categorical && len(f.Merged) > 0:
				bf.Note = fmt.Sprintf("categorical; %d rare categories merged into (other)", len(f.Merged))
			case f.Categorical:
				bf.Note = "categorical"
			case f.Monotone != "":
				bf.Note = "merged to a monotone " + f.Monotone + " event rate"
			}
			if f.Approximate {
				bf.Note += " (cuts approximate)"
			}
			var n float64
			for _, b := range f.Bins {
				n += b.Total()
			}
			for _, b := range f.Bins {
				tot := b.Total()
				share, rate, events := math.NaN(), math.NaN(), math.NaN()
				if n > 0 {
					share = tot / n
				}
				if len(b.Counts) == 2 {
					events = b.Counts[1]
					if tot > 0 {
						rate = b.Counts[1] / tot
					}
				}
				bf.Rows = append(bf.Rows, []string{b.Label, num(tot, 0), pct(share), num(events, 0), pct(rate), num(b.WOE, 4)})
			}
			p.Binning = append(p.Binning, bf)
		}
	}
	if s := r.Scorecard; s != nil && s.Pipeline != nil {
		sv := &scoreView{Scaling: fmt.Sprintf("%s points at good:bad odds of %s:1, %s points to double the odds (factor %s, offset %s)",
			num(s.BaseScore, 0), num(s.BaseOdds, 0), num(s.PDO, 0), num(s.Factor, 4), num(s.Offset, 4))}
		for _, f := range s.Features {
			if f.Index < 0 || f.Index >= len(s.Pipeline.Features) {
				continue
			}
			pf := s.Pipeline.Features[f.Index]
			if pf.Cross != nil {
				continue // in the cross characteristics' tables
			}
			sf := scoreFeature{Name: f.Name, Weight: num(f.Weight, 4)}
			for b, pts := range f.Points {
				if b >= len(pf.Bins) {
					break
				}
				sf.Rows = append(sf.Rows, []string{pf.Bins[b].Label, num(pf.Bins[b].WOE, 4), num(pts, 1)})
			}
			sv.Features = append(sv.Features, sf)
		}
		p.Scorecard = sv
	}
	if mc := r.Multiclass; mc != nil {
		m, err := mc.Metrics()
		if err == nil {
			cv := &confusionView{}
			for k := range mc.Classes {
				name := strconv.Itoa(k)
				if k < len(r.ClassNames) {
					name = r.ClassNames[k]
				}
				cv.Classes = append(cv.Classes, name)
			}
			for k, row := range m.Confusion {
				cells := []string{cv.Classes[k]}
				for _, v := range row {
					cells = append(cells, num(v, 0))
				}
				cv.Rows = append(cv.Rows, cells)
				cv.Summary = append(cv.Summary, []string{cv.Classes[k], num(m.Precision[k], 4), num(m.Recall[k], 4), num(m.F1[k], 4)})
			}
			cv.Summary = append(cv.Summary, []string{"accuracy " + num(m.Accuracy, 4), "macro-F1 " + num(m.MacroF1, 4), "log loss " + num(m.LogLoss, 4), "n " + num(m.N, 0)})
			p.Confusion = cv
		}
	}
	return p, nil
}

// crossViews lays out the cross characteristics of pl, with their points
// from s when s scores with pl (nil otherwise).
func crossViews(pl *features.Pipeline, s *models.Scorecard) []crossView {
	type key struct{ feature, segmenter string }
	var order []key
	members := map[key][]int{}
	for j, f := range pl.Features {
		if f.Cross == nil {
			continue
		}
		k := key{f.Cross.Feature, f.Cross.Segmenter}
		if _, ok := members[k]; !ok {
			order = append(order, k)
		}
		members[k] = append(members[k], j)
	}
	// The scorecard's features by name: its pipeline may be another copy
	// of pl (decoded separately from the same model).
	cards := map[int]*models.ScorecardFeature{}
	if s != nil {
		index := map[string]int{}
		for j := range pl.Features {
			index[pl.Features[j].Name] = j
		}
		for q := range s.Features {
			sf := &s.Features[q]
			if j, ok := index[sf.Name]; ok && len(pl.Features[j].Bins) == len(sf.Points) {
				cards[j] = sf
			}
		}
	}
	var out []crossView
	for _, k := range order {
		x, seg := pl.Feature(k.feature), pl.Feature(k.segmenter)
		if x == nil || seg == nil {
			continue
		}
		cv := crossView{Feature: k.feature, Segmenter: k.segmenter}
		for _, b := range x.Bins {
			cv.Rows = append(cv.Rows, []string{b.Label})
		}
		for _, j := range members[k] {
			f := &pl.Features[j]
			cs := crossSegment{Label: fmt.Sprintf("%s: bin %d", k.segmenter, f.Cross.Segment), IV: num(f.IV, 4), Weight: "not selected", Outside: "n/a"}
			if c := f.Cross.Segment; c >= 0 && c < len(seg.Bins) {
				cs.Label = k.segmenter + ": " + seg.Bins[c].Label
			}
			var n, events float64
			for _, b := range f.Bins[:len(f.Bins)-1] {
				n += b.Total()
				events += b.Counts[1]
			}
			cs.Rows, cs.Rate = num(n, 0), pct(math.NaN())
			if n > 0 {
				cs.Rate = pct(events / n)
			}
			sf := cards[j]
			if sf != nil {
				cs.Weight = num(sf.Weight, 4)
				cs.Outside = num(sf.Points[len(sf.Points)-1], 1)
			}
			for b := range cv.Rows {
				bin := f.Bins[b]
				rate := math.NaN()
				if t := bin.Total(); t > 0 {
					rate = bin.Counts[1] / t
				}
				pts := "n/a"
				if sf != nil {
					pts = num(sf.Points[b], 1)
				}
				cv.Rows[b] = append(cv.Rows[b], num(bin.Total(), 0), pct(rate), num(bin.WOE, 4), pts)
			}
			cv.Segments = append(cv.Segments, cs)
		}
		out = append(out, cv)
	}
	return out
}

func at(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return math.NaN()
}

// tierRange returns the probability range of tier i (in Names order).
func tierRange(t *models.Tiering, i int) (lo, hi float64) {
	n := len(t.Starts)
	asc := i
	if t.HighFirst {
		asc = n - 1 - i
	}
	lo, hi = 0, 1
	if asc > 0 && asc-1 < len(t.Thresholds) {
		lo = t.Thresholds[asc-1]
	}
	if asc < len(t.Thresholds) {
		hi = t.Thresholds[asc]
	}
	return lo, hi
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:0.2em 0.6em;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f2f2f2}
h2{border-bottom:2px solid #ddd;padding-bottom:0.2em;margin-top:2em}
.na{color:#888;font-style:italic}
img{max-width:100%}
</style></head><body>
<h1>{{.Title}}</h1>
<p>{{if .JobID}}Job <b>{{.JobID}}</b>. {{end}}{{if .Model}}Model: {{.Model}}. {{end}}{{if .Dataset}}Data: {{.Dataset}}. {{end}}{{if .Generated}}Generated {{.Generated}}.{{end}}</p>
{{range .Notes}}<p>{{.}}</p>{{end}}

<h2 id="metrics">Metrics</h2>
{{if .Metrics}}<table><tr><th>metric</th>{{range .MetricColumns}}<th>{{.}}</th>{{end}}</tr>
{{range .Metrics}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{else}}<p class="na">No metrics recorded.</p>{{end}}

<h2 id="roc">ROC curve</h2>
{{with index .Charts "roc"}}<img src="{{.}}" alt="ROC curve">{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="ks">KS curve</h2>
{{with index .Charts "ks"}}<img src="{{.}}" alt="KS curve"><p>Cumulative share of events (bads) and non-events (goods) at or below each score; KS is the largest gap between them.</p>{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="scores">Score distribution</h2>
{{with index .Charts "scores"}}<img src="{{.}}" alt="Score distribution of goods and bads">{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="calibration">Calibration</h2>
{{with index .Charts "calibration"}}<img src="{{.}}" alt="Calibration by decile"><p>Mean predicted probability against the observed rate in each decile of the predictions.</p>{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="lift">Lift and gain</h2>
{{if .Deciles}}<table><tr><th>decile (1 = highest predicted probability)</th><th>rows</th><th>events</th><th>mean predicted</th><th>observed rate</th><th>lift</th><th>cumulative gain</th><th>cumulative lift</th></tr>
{{range .Deciles}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="training">Training rounds</h2>
{{if .Rounds}}{{with index .Charts "training_loss"}}<img src="{{.}}" alt="Training loss by round">{{end}}{{with index .Charts "training_auc"}}<img src="{{.}}" alt="Validation AUC by round">{{end}}
<table><tr><th>round</th><th>training loss</th><th>validation AUC</th><th>validation loss</th></tr>
{{range .Rounds}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{else}}<p class="na">No training rounds recorded.</p>{{end}}

<h2 id="tiers">Score-band tiers</h2>
{{if .Tiers}}<table><tr><th>tier</th><th>probability range</th><th>rows</th><th>events</th><th>event rate</th></tr>
{{range .Tiers}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="binning">Binning</h2>
{{if .Binning}}<p>Weight of evidence: ln(share of non-events / share of events), smoothed; positive means fewer events than average.</p>
{{range .Binning}}<h3>{{.Name}}</h3><p>IV {{.IV}}; selected: {{.Selected}}{{if .Note}}; {{.Note}}{{end}}.</p>
<table><tr><th>bin</th><th>rows</th><th>share</th><th>events</th><th>event rate</th><th>WOE</th></tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="crosses">Cross characteristics</h2>
{{if .Crosses}}<p>A cross characteristic is a characteristic's bins inside one segment: a bin of a strong, coarse characteristic (the segmenter) with enough goods and bads to support a scorecard of its own. Its weights of evidence are taken inside the segment, shrunk toward the bin's portfolio rate where the segment has few rows, and it has a weight of its own, so each segment's points depart from the portfolio's as far as its rows support. A customer gets the characteristic's own points plus, for every segment the customer is in, the cross characteristic's points for the same bin; outside a segment the cross characteristic gives the points shown as "outside". Reason codes add them up and name the characteristic.</p>
{{range .Crosses}}<h3>{{.Feature}} by {{.Segmenter}}</h3>
<table><tr><th rowspan="2">{{.Feature}}</th>{{range .Segments}}<th colspan="4">{{.Label}} ({{.Rows}} rows, event rate {{.Rate}}, IV {{.IV}}, weight {{.Weight}}, outside {{.Outside}} points)</th>{{end}}</tr>
<tr>{{range .Segments}}<th>rows</th><th>event rate</th><th>WOE</th><th>points</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{else}}<p class="na">No cross characteristics in this model.</p>{{end}}

<h2 id="scorecard">Scorecard points</h2>
{{with .Scorecard}}<p>{{.Scaling}}.</p>
{{range .Features}}<h3>{{.Name}}</h3><p>weight {{.Weight}}</p>
<table><tr><th>bin</th><th>WOE</th><th>points</th></tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>{{end}}
{{else}}<p class="na">Not available for this model.</p>{{end}}

<h2 id="confusion">Confusion matrix</h2>
{{with .Confusion}}<table><tr><th>true \ predicted</th>{{range .Classes}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
<table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th></tr>
{{range .Summary}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</table>
{{else}}<p class="na">Not available for this model.</p>{{end}}
</body></html>
`))
