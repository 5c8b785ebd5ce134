package console

import (
	"math"
	"strings"
	"testing"
)

// Expected ranges follow Heckbert's "nice numbers" (Graphics Gems, 1990):
// ticks at 1, 2 or 5 times a power of ten, covering the data.
func TestNiceRange(t *testing.T) {
	for _, tc := range []struct {
		lo, hi             float64
		n                  int
		wlo, whi, wantStep float64
	}{
		{0.2312, 0.6612, 5, 0.2, 0.7, 0.1},
		{0.71, 0.83, 5, 0.7, 0.85, 0.05},
		{0, 59, 6, 0, 60, 20},
		{0, 9, 6, 0, 10, 2},
		{-3, 7, 5, -4, 8, 2}, // span 10 -> step 2.5 rounds to 2
	} {
		lo, hi, step := niceRange(tc.lo, tc.hi, tc.n)
		if math.Abs(lo-tc.wlo) > 1e-9 || math.Abs(hi-tc.whi) > 1e-9 || math.Abs(step-tc.wantStep) > 1e-9 {
			t.Errorf("niceRange(%g, %g, %d) = %g, %g, %g; want %g, %g, %g", tc.lo, tc.hi, tc.n, lo, hi, step, tc.wlo, tc.whi, tc.wantStep)
		}
	}
	if got := niceNum(0, true); got != 1 {
		t.Errorf("niceNum(0) = %g, want the fallback 1", got)
	}
}

func TestSVGChart(t *testing.T) {
	nan := math.NaN()
	a := series{Name: "train <loss>", Class: "s1", X: []float64{1, 2, 3, 4}, Y: []float64{0.6, 0.5, nan, 0.4}}
	b := series{Name: "val", Class: "s2", X: []float64{1, 2, 3, 4}, Y: []float64{nan, nan, nan, nan}}
	svg := string(svgChart("c1", `Loss "by" round`, "round", 10, []mark{{X: 2, Label: "round 2: bank dropped"}}, a, b))
	for _, want := range []string{
		`id="c1"`, `data-points="3"`, `aria-label="Loss &#34;by&#34; round"`, "train &lt;loss&gt;",
		`<polyline class="line s1"`, `<line class="drop-mark"`, "round 2: bank dropped", ">dropout<",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q:\n%s", want, svg)
		}
	}
	if n := strings.Count(svg, `<circle class="pt s1"`); n != 3 {
		t.Errorf("%d points drawn for the first series, want 3 (NaN skipped)", n)
	}
	if strings.Contains(svg, `class="line s2"`) || strings.Contains(svg, "NaN") {
		t.Errorf("a series without values drew something")
	}
	if strings.Contains(svg, "<loss>") {
		t.Errorf("series name not escaped")
	}

	empty := string(svgChart("c2", "AUC", "round", 10, nil, series{Name: "auc", Class: "s1"}))
	if !strings.Contains(empty, `data-points="0"`) || !strings.Contains(empty, "Waiting for the first round") {
		t.Errorf("empty chart:\n%s", empty)
	}
	// One value: the axis still has a range.
	one := string(svgChart("c3", "AUC", "round", 1, nil, series{Name: "auc", Class: "s1", X: []float64{1}, Y: []float64{0.8}}))
	if strings.Contains(one, "NaN") || strings.Contains(one, "Inf") || !strings.Contains(one, `data-points="1"`) {
		t.Errorf("one-point chart:\n%s", one)
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{fmtCount(int64(1234567)), "1,234,567"},
		{fmtCount(int64(-1234)), "-1,234"},
		{fmtCount(uint64(999)), "999"},
		{fmtFloat(4, math.NaN()), "—"},
		{fmtFloat(2, 3.14159), "3.14"},
		{fmtDuration(1500 * 1e6), "1.5s"},
		{fmtDuration(3725 * 1e9), "1h 02m"},
		{fmtTime(nil), "—"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
