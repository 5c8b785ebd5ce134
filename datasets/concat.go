package datasets

import "fmt"

// Concat appends b's rows to a's. The tables must have the same columns,
// by name and kind, in the same order; a nil a returns b.
func Concat(a, b *Table) (*Table, error) {
	if a == nil {
		return b, nil
	}
	if len(a.Columns) != len(b.Columns) {
		return nil, fmt.Errorf("datasets: concat: %d columns against %d", len(a.Columns), len(b.Columns))
	}
	out := &Table{Columns: make([]*Column, len(a.Columns))}
	for i, ca := range a.Columns {
		cb := b.Columns[i]
		if ca.Name != cb.Name || ca.Kind != cb.Kind {
			return nil, fmt.Errorf("datasets: concat: column %d is %q (%s) in one table and %q (%s) in the other", i, ca.Name, ca.Kind, cb.Name, cb.Kind)
		}
		c := &Column{Name: ca.Name, Kind: ca.Kind}
		if ca.Float != nil || cb.Float != nil {
			c.Float = append(append(make([]float64, 0, ca.Len()+cb.Len()), ca.Float...), cb.Float...)
		}
		if ca.String != nil || cb.String != nil {
			c.String = append(append(make([]string, 0, ca.Len()+cb.Len()), ca.String...), cb.String...)
		}
		if ca.Null != nil || cb.Null != nil {
			c.Null = make([]bool, 0, ca.Len()+cb.Len())
			c.Null = append(c.Null, nullsOrFalse(ca)...)
			c.Null = append(c.Null, nullsOrFalse(cb)...)
		}
		out.Columns[i] = c
	}
	return out, nil
}

func nullsOrFalse(c *Column) []bool {
	if c.Null != nil {
		return c.Null
	}
	return make([]bool, c.Len())
}
