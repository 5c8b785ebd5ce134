package datasets

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// newRand returns the generator every seeded function here uses.
func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

// group is the rows holding one distinct value of a column.
type group struct {
	null bool // nulls (and NaN) form one group, after every value
	f    float64
	s    string
	rows []int
}

// groupRows splits the rows of c by value. Groups come in value order:
// numbers ascending, strings in byte order, the null group last; rows
// within a group ascending.
func groupRows(c *Column) []*group {
	var nullGroup *group
	byF := make(map[float64]*group)
	byS := make(map[string]*group)
	var gs []*group
	for i := range c.Len() {
		var g *group
		switch {
		case c.IsNull(i) || (c.Kind != String && math.IsNaN(c.Float[i])):
			if nullGroup == nil {
				nullGroup = &group{null: true}
			}
			g = nullGroup
		case c.Kind == String:
			if g = byS[c.String[i]]; g == nil {
				g = &group{s: c.String[i]}
				byS[g.s] = g
				gs = append(gs, g)
			}
		default:
			if g = byF[c.Float[i]]; g == nil {
				g = &group{f: c.Float[i]}
				byF[g.f] = g
				gs = append(gs, g)
			}
		}
		g.rows = append(g.rows, i)
	}
	slices.SortFunc(gs, func(a, b *group) int {
		if c := cmp.Compare(a.f, b.f); c != 0 {
			return c
		}
		return cmp.Compare(a.s, b.s)
	})
	if nullGroup != nil {
		gs = append(gs, nullGroup)
	}
	return gs
}

// column looks up a column for a split, with a helpful error.
func splitColumn(t *Table, name, role string) (*Column, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	c := t.Column(name)
	if c == nil {
		return nil, colErr("", name, ErrMissingColumn, "%s column not found", role)
	}
	return c, nil
}

// selectSorted returns the rows of t at the given indexes, in file order.
func selectSorted(t *Table, rows []int) *Table {
	slices.Sort(rows)
	return t.Select(rows)
}

// StratifiedHoldout splits t into a training and a test table, putting
// round(frac × count) of each label value's rows, chosen at random with the
// given seed, into test. Both keep t's row order. frac must lie in (0, 1)
// and leave both tables non-empty.
func StratifiedHoldout(t *Table, label string, frac float64, seed int64) (train, test *Table, err error) {
	tr, te, err := StratifiedHoldoutRows(t, label, frac, seed)
	if err != nil {
		return nil, nil, err
	}
	return t.Select(tr), t.Select(te), nil
}

// StratifiedHoldoutRows is StratifiedHoldout returning the row indexes of
// each part, ascending, instead of tables: for data held apart (a vertical
// split), where the same rows must be cut from several tables.
func StratifiedHoldoutRows(t *Table, label string, frac float64, seed int64) (train, test []int, err error) {
	c, err := splitColumn(t, label, "label")
	if err != nil {
		return nil, nil, err
	}
	if !(frac > 0 && frac < 1) {
		return nil, nil, fmt.Errorf("datasets: holdout fraction %v not in (0, 1)", frac)
	}
	rng := newRand(seed)
	var tr, te []int
	for _, g := range groupRows(c) {
		rng.Shuffle(len(g.rows), func(i, j int) { g.rows[i], g.rows[j] = g.rows[j], g.rows[i] })
		k := int(math.Round(frac * float64(len(g.rows))))
		te = append(te, g.rows[:k]...)
		tr = append(tr, g.rows[k:]...)
	}
	if len(tr) == 0 || len(te) == 0 {
		return nil, nil, fmt.Errorf("datasets: holdout fraction %v of %d rows leaves %d for training and %d for test", frac, t.Rows(), len(tr), len(te))
	}
	slices.Sort(tr)
	slices.Sort(te)
	return tr, te, nil
}

func checkParts(t *Table, n int) error {
	if n < 1 || n > t.Rows() {
		return fmt.Errorf("datasets: cannot split %d rows into %d parts", t.Rows(), n)
	}
	return nil
}

// SplitIID deals the rows of t into n parts at random with the given seed,
// stratified on label: for every label value, part sizes differ by at most
// one row, and so do the parts' total sizes. Each part keeps t's row order.
func SplitIID(t *Table, n int, label string, seed int64) ([]*Table, error) {
	c, err := splitColumn(t, label, "label")
	if err != nil {
		return nil, err
	}
	if err := checkParts(t, n); err != nil {
		return nil, err
	}
	rng := newRand(seed)
	parts := make([][]int, n)
	next := 0 // the part the next row goes to; carried across classes
	for _, g := range groupRows(c) {
		rng.Shuffle(len(g.rows), func(i, j int) { g.rows[i], g.rows[j] = g.rows[j], g.rows[i] })
		for _, r := range g.rows {
			parts[next] = append(parts[next], r)
			next = (next + 1) % n
		}
	}
	out := make([]*Table, n)
	for i, rows := range parts {
		out[i] = selectSorted(t, rows)
	}
	return out, nil
}

// SplitByColumn splits t into n parts that do not share a value of column,
// as participants in different regions or segments would (non-IID). The
// rows are grouped by the column's distinct values (nulls form one group);
// groups, largest first (ties in value order: numbers ascending, strings
// in byte order, nulls last), each go to the part with the fewest rows so
// far (ties to the lowest index). It is deterministic. Fewer distinct
// values than n is an error. Each part keeps t's row order.
func SplitByColumn(t *Table, n int, column string) ([]*Table, error) {
	c, err := splitColumn(t, column, "split")
	if err != nil {
		return nil, err
	}
	if err := checkParts(t, n); err != nil {
		return nil, err
	}
	gs := groupRows(c)
	if len(gs) < n {
		return nil, fmt.Errorf("datasets: column %q: %d distinct values cannot fill %d parts", column, len(gs), n)
	}
	slices.SortStableFunc(gs, func(a, b *group) int { return cmp.Compare(len(b.rows), len(a.rows)) })
	parts := make([][]int, n)
	for _, g := range gs {
		smallest := 0
		for i := range parts {
			if len(parts[i]) < len(parts[smallest]) {
				smallest = i
			}
		}
		parts[smallest] = append(parts[smallest], g.rows...)
	}
	out := make([]*Table, n)
	for i, rows := range parts {
		out[i] = selectSorted(t, rows)
	}
	return out, nil
}

// SplitHorizontal splits t's rows into n parts: SplitIID on label when by
// is "iid", SplitByColumn on the column named by otherwise.
func SplitHorizontal(t *Table, n int, by string, label string, seed int64) ([]*Table, error) {
	if by == "iid" {
		return SplitIID(t, n, label, seed)
	}
	return SplitByColumn(t, n, by)
}

// SplitVertical splits t's columns into parts, as a bank and its partners
// each hold some columns about the same customers. Part i holds the id
// column first, then the columns parts[i] names, in that order (naming the
// id again is allowed and ignored). An unknown column is an error wrapping
// ErrMissingColumn. The parts share column storage with t.
func SplitVertical(t *Table, id string, parts [][]string) ([]*Table, error) {
	idc, err := splitColumn(t, id, "id")
	if err != nil {
		return nil, err
	}
	out := make([]*Table, len(parts))
	for i, names := range parts {
		pt := &Table{Columns: []*Column{idc}}
		seen := map[string]bool{id: true}
		for _, name := range names {
			if name == id {
				continue
			}
			if seen[name] {
				return nil, colErr("", name, ErrFormat, "named twice in part %d", i)
			}
			seen[name] = true
			c := t.Column(name)
			if c == nil {
				return nil, colErr("", name, ErrMissingColumn, "column of part %d not found", i)
			}
			pt.Columns = append(pt.Columns, c)
		}
		out[i] = pt
	}
	return out, nil
}
