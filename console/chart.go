package console

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"slices"
	"strings"
)

// series is one curve of a chart: y against x, NaN where there is no value.
type series struct {
	Name  string
	Class string // s1, s2: the colour, from console.css
	X, Y  []float64
}

func (s series) points() int {
	n := 0
	for i := range s.X {
		if finite(s.X[i]) && finite(s.Y[i]) {
			n++
		}
	}
	return n
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// mark is a vertical line at x, such as a round with dropouts.
type mark struct {
	X     float64
	Label string
}

// chart geometry, in SVG user units.
const (
	chartW, chartH                 = 600, 260
	padL, padR, padT, padB float64 = 58, 18, 34, 38
)

// svgChart draws line charts as inline SVG: no script, no external
// library, and its element carries data-points, the number of points in
// the first series. xmax is the planned end of the x axis; marks are drawn
// as dashed vertical lines.
func svgChart(id, title, xLabel string, xmax float64, marks []mark, ss ...series) template.HTML {
	var b strings.Builder
	n := 0
	if len(ss) > 0 {
		n = ss[0].points()
	}
	fmt.Fprintf(&b, `<svg id="%s" class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s" data-points="%d" xmlns="http://www.w3.org/2000/svg">`,
		html.EscapeString(id), chartW, chartH, html.EscapeString(title), n)
	fmt.Fprintf(&b, `<title>%s</title>`, html.EscapeString(title))
	fmt.Fprintf(&b, `<text class="chart-title" x="%g" y="18">%s</text>`, padL, html.EscapeString(title))

	// Domains.
	xlo, xhi := 1.0, math.Max(xmax, 2)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	total := 0
	for _, s := range ss {
		for i := range s.X {
			if !finite(s.X[i]) || !finite(s.Y[i]) {
				continue
			}
			total++
			xhi = math.Max(xhi, s.X[i])
			ylo, yhi = math.Min(ylo, s.Y[i]), math.Max(yhi, s.Y[i])
		}
	}
	if total == 0 {
		ylo, yhi = 0, 1
	}
	if yhi-ylo < 1e-9 {
		pad := math.Max(math.Abs(yhi)*0.05, 0.01)
		ylo, yhi = ylo-pad, yhi+pad
	}
	ylo, yhi, ystep := niceRange(ylo, yhi, 5)
	_, _, xstep := niceRange(0, xhi-xlo, 6)
	xstep = math.Max(1, math.Round(xstep))

	x0, x1, y0, y1 := padL, chartW-padR, chartH-padB, padT
	px := func(x float64) float64 { return x0 + (x-xlo)/(xhi-xlo)*(x1-x0) }
	py := func(y float64) float64 { return y0 - (y-ylo)/(yhi-ylo)*(y0-y1) }

	// Grid and ticks.
	prec := max(0, int(-math.Floor(math.Log10(ystep)+1e-9)))
	for y := ylo; y <= yhi+ystep/2; y += ystep {
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x0, py(y), x1, py(y))
		fmt.Fprintf(&b, `<text class="tick ytick" x="%.1f" y="%.1f">%.*f</text>`, x0-6, py(y)+4, prec, y)
	}
	// x ticks at the first round and at multiples of the step.
	xticks := []float64{xlo}
	for x := xstep; x <= xhi+1e-9; x += xstep {
		if x-xlo >= xstep/2 {
			xticks = append(xticks, x)
		}
	}
	for _, x := range xticks {
		fmt.Fprintf(&b, `<line class="xtick" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, px(x), y0, px(x), y0+4)
		fmt.Fprintf(&b, `<text class="tick xtick-label" x="%.1f" y="%.1f">%g</text>`, px(x), y0+17, x)
	}
	// Rounds with dropouts, as dashed red lines.
	for _, m := range marks {
		if m.X < xlo || m.X > xhi {
			continue
		}
		fmt.Fprintf(&b, `<line class="drop-mark" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"><title>%s</title></line>`,
			px(m.X), y0, px(m.X), y1, html.EscapeString(m.Label))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x0, y0, x1, y0)
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f"/>`, x0, y0, x0, y1)
	fmt.Fprintf(&b, `<text class="axis-label" x="%.1f" y="%d">%s</text>`, (x0+x1)/2, chartH-4, html.EscapeString(xLabel))

	// Legend, top right.
	legend := ss
	if len(marks) > 0 {
		legend = append(slices.Clone(ss), series{Name: "dropout", Class: "drop"})
	}
	lx := x1
	for i := len(legend) - 1; i >= 0; i-- {
		s := legend[i]
		lx -= 9 + 7*float64(len(s.Name)) + 18
		fmt.Fprintf(&b, `<rect class="swatch %s" x="%.1f" y="10" width="12" height="4"/>`, s.Class, lx)
		fmt.Fprintf(&b, `<text class="legend" x="%.1f" y="16">%s</text>`, lx+16, html.EscapeString(s.Name))
	}

	// Curves.
	for _, s := range ss {
		var pts []string
		var dots strings.Builder
		for i := range s.X {
			if !finite(s.X[i]) || !finite(s.Y[i]) {
				continue
			}
			cx, cy := px(s.X[i]), py(s.Y[i])
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", cx, cy))
			fmt.Fprintf(&dots, `<circle class="pt %s" cx="%.1f" cy="%.1f" r="3"><title>%s, round %g: %.4f</title></circle>`,
				s.Class, cx, cy, html.EscapeString(s.Name), s.X[i], s.Y[i])
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline class="line %s" points="%s"/>`, s.Class, strings.Join(pts, " "))
		}
		b.WriteString(dots.String())
	}
	if total == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%.1f" y="%.1f">Waiting for the first round…</text>`, (x0+x1)/2, (y0+y1)/2)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceRange widens [lo, hi] to multiples of a round step (1, 2 or 5 times
// a power of ten) giving about n ticks: the classic "nice numbers" of
// Heckbert, Graphics Gems (1990).
func niceRange(lo, hi float64, n int) (nlo, nhi, step float64) {
	span := niceNum(hi-lo, false)
	step = niceNum(span/float64(n-1), true)
	return math.Floor(lo/step) * step, math.Ceil(hi/step) * step, step
}

func niceNum(x float64, round bool) float64 {
	if x <= 0 || !finite(x) {
		return 1
	}
	e := math.Floor(math.Log10(x))
	f := x / math.Pow(10, e)
	var nf float64
	switch {
	case round && f < 1.5:
		nf = 1
	case round && f < 3:
		nf = 2
	case round && f < 7:
		nf = 5
	case round:
		nf = 10
	case f <= 1:
		nf = 1
	case f <= 2:
		nf = 2
	case f <= 5:
		nf = 5
	default:
		nf = 10
	}
	return nf * math.Pow(10, e)
}

// lossChart draws a job's training loss and validation log loss by round.
func lossChart(v JobView) template.HTML {
	train := series{Name: "train loss", Class: "s1"}
	val := series{Name: "validation log loss", Class: "s2"}
	for _, r := range v.History {
		x := float64(r.Round)
		train.X, train.Y = append(train.X, x), append(train.Y, r.TrainLoss)
		y := math.NaN()
		if r.Validation != nil {
			y = r.Validation.LogLoss
		}
		val.X, val.Y = append(val.X, x), append(val.Y, y)
	}
	return svgChart("chart-loss", "Loss", "round", float64(v.RoundsPlanned), dropMarks(v), train, val)
}

// aucChart draws a job's validation AUC and KS by round.
func aucChart(v JobView) template.HTML {
	auc := series{Name: "validation AUC", Class: "s1"}
	ks := series{Name: "KS", Class: "s2"}
	for _, r := range v.History {
		x := float64(r.Round)
		a, k := math.NaN(), math.NaN()
		if r.Validation != nil {
			a, k = r.Validation.AUC, r.Validation.KS
		}
		auc.X, auc.Y = append(auc.X, x), append(auc.Y, a)
		ks.X, ks.Y = append(ks.X, x), append(ks.Y, k)
	}
	return svgChart("chart-auc", "AUC and KS", "round", float64(v.RoundsPlanned), dropMarks(v), auc, ks)
}

// dropMarks marks the rounds that lost participants.
func dropMarks(v JobView) []mark {
	var out []mark
	for _, r := range v.History {
		if len(r.Dropped) > 0 {
			out = append(out, mark{X: float64(r.Round), Label: fmt.Sprintf("round %d: %s dropped", r.Round, strings.Join(r.Dropped, ", "))})
		}
	}
	return out
}
