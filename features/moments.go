package features

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Moments holds the count, per-column sums and per-column sums of squares of
// a set of rows. Moments of disjoint row sets add, so parties can compute
// them locally and a coordinator can sum their Vectors under secure
// aggregation.
//
// The zero Moments has dimension 0 and takes the dimension of the first
// matrix added or Moments merged into it, which makes
//
//	var total features.Moments
//	for _, p := range parts { err := total.Merge(p) ... }
//
// work without knowing the dimension up front.
type Moments struct {
	Count float64
	Sum   []float64
	SumSq []float64
}

// NewMoments returns empty Moments for d columns. A negative d is treated
// as 0.
func NewMoments(d int) Moments {
	d = max(d, 0)
	return Moments{Sum: make([]float64, d), SumSq: make([]float64, d)}
}

// Dim returns the number of columns.
func (m Moments) Dim() int { return len(m.Sum) }

// isZero reports whether m is the zero Moments, which adopts a dimension.
func (m *Moments) isZero() bool {
	return m.Count == 0 && len(m.Sum) == 0 && len(m.SumSq) == 0
}

// validate reports whether m is well formed: equal lengths, finite values,
// a non-negative count.
func (m Moments) validate() error {
	if len(m.Sum) != len(m.SumSq) {
		return fmt.Errorf("features: moments have %d sums and %d sums of squares", len(m.Sum), len(m.SumSq))
	}
	if math.IsNaN(m.Count) || math.IsInf(m.Count, 0) || m.Count < 0 {
		return fmt.Errorf("features: moments count %v is not a finite non-negative number", m.Count)
	}
	for j := range m.Sum {
		if !finite(m.Sum[j]) || !finite(m.SumSq[j]) {
			return fmt.Errorf("features: moments of column %d are not finite", j)
		}
	}
	return nil
}

// Add accumulates the rows of X. It returns an error, and leaves m
// unchanged, if X is nil, has a different number of columns from m, or
// holds NaN or Inf. A matrix with no rows adds nothing.
func (m *Moments) Add(X mat.Matrix) error {
	if isNilMatrix(X) {
		return errors.New("features: nil matrix")
	}
	r, c := X.Dims()
	if r == 0 {
		return nil
	}
	if err := m.validate(); err != nil {
		return err
	}
	if c != len(m.Sum) && !m.isZero() {
		return fmt.Errorf("features: matrix has %d columns, moments have %d", c, len(m.Sum))
	}
	rows := RowReader(X)
	for i := range r {
		for j, v := range rows.Row(i) {
			if !finite(v) {
				return fmt.Errorf("features: non-finite value %v at row %d, column %d", v, i, j)
			}
		}
	}
	// Neumaier's compensated summation keeps each call's sums accurate to
	// a few ulps whatever the number of rows, so a constant column's mean
	// is exact and E[x²]-E[x]² loses only what cancellation must.
	sum := make([]float64, 4*c)
	sum, comp, sumSq, compSq := sum[:c], sum[c:2*c], sum[2*c:3*c], sum[3*c:]
	for i := range r {
		for j, v := range rows.Row(i) {
			sum[j], comp[j] = neumaier(sum[j], comp[j], v)
			sumSq[j], compSq[j] = neumaier(sumSq[j], compSq[j], v*v)
		}
	}
	if m.isZero() {
		*m = NewMoments(c)
	}
	for j := range c {
		m.Sum[j] += sum[j] + comp[j]
		m.SumSq[j] += sumSq[j] + compSq[j]
	}
	m.Count += float64(r)
	return nil
}

// AddMatrix accumulates the rows of X. It is Add for callers that check
// validity once at the end: if Add fails, AddMatrix sets Count to NaN, and
// Standardizer, Merge and MomentsFromVector then report the Moments as
// invalid. A nil X is ignored.
func (m *Moments) AddMatrix(X mat.Matrix) {
	if isNilMatrix(X) {
		return
	}
	if err := m.Add(X); err != nil {
		m.Count = math.NaN()
	}
}

// Merge adds o into m. The dimensions must match (the zero Moments adopts
// o's dimension) and both must be valid; on error m is unchanged.
func (m *Moments) Merge(o Moments) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		return err
	}
	if m.isZero() {
		*m = NewMoments(len(o.Sum))
	}
	if len(m.Sum) != len(o.Sum) || len(m.SumSq) != len(o.SumSq) {
		return fmt.Errorf("features: merge: dimension %d into %d", len(o.Sum), len(m.Sum))
	}
	m.Count += o.Count
	for j := range o.Sum {
		m.Sum[j] += o.Sum[j]
		m.SumSq[j] += o.SumSq[j]
	}
	return nil
}

// Vector returns the Moments as one summable vector,
// [count, sum..., sumsq...], of length 1+2d. It is a new slice.
func (m Moments) Vector() []float64 {
	v := make([]float64, 0, 1+len(m.Sum)+len(m.SumSq))
	v = append(v, m.Count)
	v = append(v, m.Sum...)
	return append(v, m.SumSq...)
}

// MomentsFromVector is the inverse of Vector for dimension d. It returns an
// error if len(v) != 1+2d or if v holds NaN, Inf or a negative count. The
// result does not alias v.
func MomentsFromVector(v []float64, d int) (Moments, error) {
	if d < 0 {
		return Moments{}, fmt.Errorf("features: negative dimension %d", d)
	}
	if len(v) != 1+2*d {
		return Moments{}, fmt.Errorf("features: moments vector has length %d, want 1+2*%d", len(v), d)
	}
	m := Moments{
		Count: v[0],
		Sum:   append([]float64(nil), v[1:1+d]...),
		SumSq: append([]float64(nil), v[1+d:]...),
	}
	if d == 0 {
		m.Sum, m.SumSq = []float64{}, []float64{}
	}
	if err := m.validate(); err != nil {
		return Moments{}, err
	}
	return m, nil
}

// constantTol is the relative variance below which a column is treated as
// constant. Moments are sums, so the variance comes from the one-pass
// formula E[x²] - E[x]², whose rounding error is a small multiple of
// eps*E[x²] (more after merging many parties, or after fixed-point
// encoding for secure aggregation). A
// variance under 1e-12*E[x²], a standard deviation under a millionth of the
// column's root mean square, cannot be told apart from that noise. Columns
// with a large offset and a small spread (raw Unix timestamps, say) should
// be shifted before their moments are taken.
const constantTol = 1e-12

// Standardizer returns the transform that centres each column on its mean
// and divides it by its population standard deviation (ddof = 0, as
// sklearn's StandardScaler). A constant column gets Std 1, so it maps to 0
// rather than to NaN; see constantTol for when a column counts as constant.
// It returns an error if the Moments are invalid or the count is 0.
func (m Moments) Standardizer() (Standardizer, error) {
	if err := m.validate(); err != nil {
		return Standardizer{}, err
	}
	if m.Count == 0 {
		return Standardizer{}, errors.New("features: standardizer from empty moments")
	}
	s := Standardizer{Mean: make([]float64, len(m.Sum)), Std: make([]float64, len(m.Sum))}
	for j := range m.Sum {
		mean := m.Sum[j] / m.Count
		meanSq := m.SumSq[j] / m.Count
		v := meanSq - mean*mean
		s.Mean[j] = mean
		if v > constantTol*meanSq {
			s.Std[j] = math.Sqrt(v)
		} else {
			s.Std[j] = 1
		}
	}
	return s, nil
}

// neumaier adds v to the running sum s with compensation c.
func neumaier(s, c, v float64) (float64, float64) {
	t := s + v
	if math.Abs(s) >= math.Abs(v) {
		c += (s - t) + v
	} else {
		c += (v - t) + s
	}
	return t, c
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
