package features

import (
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// isNilMatrix reports whether X is nil or a nil *mat.Dense, on which Dims
// would panic.
func isNilMatrix(X mat.Matrix) bool {
	if X == nil {
		return true
	}
	d, ok := X.(*mat.Dense)
	return ok && d == nil
}

// Rows gives row slices of a matrix: views into the backing array when the
// matrix exposes one, copies into a reused buffer otherwise. A row is valid
// until the next call. (models reads its matrices through it too.)
type Rows struct {
	raw  *blas64.General
	x    mat.Matrix
	buf  []float64
	cols int
}

// RowReader returns a Rows over X.
func RowReader(X mat.Matrix) *Rows {
	_, c := X.Dims()
	r := &Rows{x: X, cols: c}
	if rm, ok := X.(mat.RawMatrixer); ok {
		g := rm.RawMatrix()
		r.raw = &g
	} else {
		r.buf = make([]float64, c)
	}
	return r
}

// Row returns row i.
func (r *Rows) Row(i int) []float64 {
	if r.raw != nil {
		return r.raw.Data[i*r.raw.Stride : i*r.raw.Stride+r.cols]
	}
	return mat.Row(r.buf, i, r.x)
}
