package models

import (
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// rowReader gives row slices of a matrix: views into the backing array
// when the matrix exposes one, copies into a reused buffer otherwise. A
// row is valid until the next call.
type rowsOf struct {
	raw  *blas64.General
	x    mat.Matrix
	buf  []float64
	cols int
}

func rowReader(X mat.Matrix) *rowsOf {
	_, c := X.Dims()
	r := &rowsOf{x: X, cols: c}
	if rm, ok := X.(mat.RawMatrixer); ok {
		g := rm.RawMatrix()
		r.raw = &g
	} else {
		r.buf = make([]float64, c)
	}
	return r
}

func (r *rowsOf) row(i int) []float64 {
	if r.raw != nil {
		return r.raw.Data[i*r.raw.Stride : i*r.raw.Stride+r.cols]
	}
	return mat.Row(r.buf, i, r.x)
}
