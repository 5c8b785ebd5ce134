package datasets

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// labelled returns a table of n rows with a "row" column holding the row
// index, and a "y" label that is 1 on every k-th row.
func labelled(n, k int) *Table {
	row := &Column{Name: "row", Kind: Int, Float: make([]float64, n)}
	y := &Column{Name: "y", Kind: Int, Float: make([]float64, n)}
	for i := range n {
		row.Float[i] = float64(i)
		if i%k == 0 {
			y.Float[i] = 1
		}
	}
	return &Table{Columns: []*Column{row, y}}
}

func rowsOf(t *Table) []int {
	var out []int
	for _, v := range t.Column("row").Float {
		out = append(out, int(v))
	}
	return out
}

func count(t *Table, label string, v float64) int {
	n := 0
	for _, x := range t.Column(label).Float {
		if x == v {
			n++
		}
	}
	return n
}

// checkPartition checks that parts hold every row of a table of n rows
// exactly once, each part in ascending row order.
func checkPartition(t *testing.T, parts []*Table, n int) {
	t.Helper()
	var all []int
	for i, p := range parts {
		rows := rowsOf(p)
		if !slices.IsSorted(rows) {
			t.Errorf("part %d is not in file order", i)
		}
		all = append(all, rows...)
	}
	slices.Sort(all)
	for i, r := range all {
		if r != i {
			t.Fatalf("parts do not partition the %d rows (row %d is %d)", n, i, r)
		}
	}
	if len(all) != n {
		t.Fatalf("parts hold %d rows, want %d", len(all), n)
	}
}

func TestStratifiedHoldout(t *testing.T) {
	tab := labelled(1000, 10) // 100 positives, 900 negatives
	tests := []struct {
		frac               float64
		testPos, testTotal int
	}{
		{0.25, 25, 250},
		{0.3, 30, 300},
		{0.013, 1, 13}, // round(1.3) = 1 positive, round(11.7) = 12 negatives
	}
	for _, tc := range tests {
		train, test, err := StratifiedHoldout(tab, "y", tc.frac, 1)
		if err != nil {
			t.Fatal(err)
		}
		checkPartition(t, []*Table{train, test}, 1000)
		if p, n := count(test, "y", 1), test.Rows(); p != tc.testPos || n != tc.testTotal {
			t.Errorf("frac %v: test has %d positives of %d, want %d of %d", tc.frac, p, n, tc.testPos, tc.testTotal)
		}
	}

	_, a, _ := StratifiedHoldout(tab, "y", 0.2, 42)
	_, b, _ := StratifiedHoldout(tab, "y", 0.2, 42)
	_, c, _ := StratifiedHoldout(tab, "y", 0.2, 43)
	if !slices.Equal(rowsOf(a), rowsOf(b)) {
		t.Error("same seed gave different holdouts")
	}
	if slices.Equal(rowsOf(a), rowsOf(c)) {
		t.Error("different seeds gave the same holdout")
	}

	for _, frac := range []float64{0, 1, -0.5, math.NaN(), 0.0001} {
		if _, _, err := StratifiedHoldout(tab, "y", frac, 1); err == nil {
			t.Errorf("frac %v: no error", frac)
		}
	}
	if _, _, err := StratifiedHoldout(tab, "nope", 0.2, 1); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("missing label: err = %v, want ErrMissingColumn", err)
	}

	// The row form cuts exactly the rows of the table form.
	trainTab, testTab, _ := StratifiedHoldout(tab, "y", 0.2, 42)
	trainRows, testRows, err := StratifiedHoldoutRows(tab, "y", 0.2, 42)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(trainRows, rowsOf(trainTab)) || !slices.Equal(testRows, rowsOf(testTab)) {
		t.Error("StratifiedHoldoutRows and StratifiedHoldout cut different rows")
	}
}

func TestSplitIID(t *testing.T) {
	const n = 1003
	tab := labelled(n, 9) // 112 positives, 891 negatives
	for _, parts := range []int{1, 2, 3, 7} {
		ps, err := SplitIID(tab, parts, "y", 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != parts {
			t.Fatalf("%d parts, want %d", len(ps), parts)
		}
		checkPartition(t, ps, n)
		for _, class := range []float64{0, 1} {
			lo, hi := n, 0
			for _, p := range ps {
				c := count(p, "y", class)
				lo, hi = min(lo, c), max(hi, c)
			}
			if hi-lo > 1 {
				t.Errorf("%d parts, class %v: counts range %d..%d, want within 1", parts, class, lo, hi)
			}
		}
		lo, hi := n, 0
		for _, p := range ps {
			lo, hi = min(lo, p.Rows()), max(hi, p.Rows())
		}
		if hi-lo > 1 {
			t.Errorf("%d parts: sizes range %d..%d, want within 1", parts, lo, hi)
		}
	}
	a, _ := SplitIID(tab, 3, "y", 5)
	b, _ := SplitIID(tab, 3, "y", 5)
	c, _ := SplitIID(tab, 3, "y", 6)
	if !slices.Equal(rowsOf(a[1]), rowsOf(b[1])) {
		t.Error("same seed gave different splits")
	}
	if slices.Equal(rowsOf(a[1]), rowsOf(c[1])) {
		t.Error("different seeds gave the same split")
	}
	for _, parts := range []int{0, -1, n + 1} {
		if _, err := SplitIID(tab, parts, "y", 1); err == nil {
			t.Errorf("%d parts: no error", parts)
		}
	}
}

func TestSplitByColumn(t *testing.T) {
	// Group sizes: a 5, b 3, c 3, d 2, null 2, e 1; interleaved in the file.
	regions := strings.Split("a,b,c,a,d,NA,b,a,e,c,a,NA,b,d,c,a", ",")
	var csv strings.Builder
	csv.WriteString("row,region\n")
	for i, r := range regions {
		csv.WriteString(strconv.Itoa(i) + "," + r + "\n")
	}
	tab, err := ReadCSVFrom(strings.NewReader(csv.String()), "regions.csv")
	if err != nil {
		t.Fatal(err)
	}
	regionsOf := func(p *Table) string {
		seen := map[string]bool{}
		var out []string
		c := p.Column("region")
		for i := range c.Len() {
			r := c.Format(i)
			if c.IsNull(i) {
				r = "null"
			}
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
			}
		}
		slices.Sort(out)
		return strings.Join(out, "+")
	}
	tests := []struct {
		parts int
		want  []string
	}{
		// Largest group first, to the part with fewest rows so far (ties to
		// the lowest index); worked by hand from the sizes above.
		{1, []string{"a+b+c+d+e+null"}},
		{2, []string{"a+d+e", "b+c+null"}}, // a→0 (5) b→1 (3) c→1 (6) d→0 (7) null→1 (8) e→0 (8)
		{3, []string{"a+e", "b+d", "c+null"}},
		{6, []string{"a", "b", "c", "d", "null", "e"}},
	}
	for _, tc := range tests {
		ps, err := SplitByColumn(tab, tc.parts, "region")
		if err != nil {
			t.Fatal(err)
		}
		checkPartition(t, ps, len(regions))
		var got []string
		for _, p := range ps {
			got = append(got, regionsOf(p))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%d parts: %v, want %v", tc.parts, got, tc.want)
		}
		again, _ := SplitHorizontal(tab, tc.parts, "region", "", 99)
		for i := range ps {
			if !slices.Equal(rowsOf(again[i]), rowsOf(ps[i])) {
				t.Errorf("SplitHorizontal by region differs from SplitByColumn in part %d", i)
			}
		}
	}
	if _, err := SplitByColumn(tab, 7, "region"); err == nil || !strings.Contains(err.Error(), `"region"`) {
		t.Errorf("7 parts of 6 values: err = %v, want an error naming the column", err)
	}
	if _, err := SplitByColumn(tab, 2, "nope"); !errors.Is(err, ErrMissingColumn) {
		t.Errorf("missing column: err = %v, want ErrMissingColumn", err)
	}
}

func TestSplitHorizontalIID(t *testing.T) {
	tab := labelled(100, 4)
	a, err := SplitHorizontal(tab, 3, "iid", "y", 8)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SplitIID(tab, 3, "y", 8)
	for i := range a {
		if !slices.Equal(rowsOf(a[i]), rowsOf(b[i])) {
			t.Errorf("part %d differs from SplitIID", i)
		}
	}
}

func TestSplitVertical(t *testing.T) {
	w, err := Synthesize(SynthConfig{Customers: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	bank := append(BankColumns(), SynthLabel)
	parts, err := SplitVertical(w.Table, SynthID, [][]string{bank, append([]string{SynthID}, PartnerColumns()...)})
	if err != nil {
		t.Fatal(err)
	}
	wantNames := [][]string{append([]string{SynthID}, bank...), append([]string{SynthID}, PartnerColumns()...)}
	for i, p := range parts {
		if !slices.Equal(p.Names(), wantNames[i]) {
			t.Errorf("part %d: columns %v, want %v", i, p.Names(), wantNames[i])
		}
		if err := p.Validate(); err != nil {
			t.Errorf("part %d: %v", i, err)
		}
		if !slices.Equal(p.Column(SynthID).String, w.Table.Column(SynthID).String) {
			t.Errorf("part %d: ids differ from the table's", i)
		}
	}
	for _, tc := range []struct {
		id    string
		parts [][]string
	}{
		{SynthID, [][]string{{"age"}, {"no_such_column"}}},
		{"no_such_id", [][]string{{"age"}}},
	} {
		_, err := SplitVertical(w.Table, tc.id, tc.parts)
		if !errors.Is(err, ErrMissingColumn) || !strings.Contains(err.Error(), `"no_such`) {
			t.Errorf("%v: err = %v, want ErrMissingColumn naming the column", tc, err)
		}
	}
	if _, err := SplitVertical(w.Table, SynthID, [][]string{{"age", "age"}}); err == nil {
		t.Error("a column named twice in a part: no error")
	}
}
