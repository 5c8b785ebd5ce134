package features

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Standardizer maps column j of a matrix to (x - Mean[j]) / Std[j]. It is
// plain data that travels with a model; fit one from Moments.
type Standardizer struct {
	Mean []float64
	Std  []float64
}

// Dim returns the number of columns the Standardizer transforms.
func (s Standardizer) Dim() int { return len(s.Mean) }

// Validate returns an error unless Mean and Std have equal lengths, every
// Mean is finite and every Std is finite and positive. Check a Standardizer
// that was decoded from elsewhere before use.
func (s Standardizer) Validate() error {
	if len(s.Mean) != len(s.Std) {
		return fmt.Errorf("features: standardizer has %d means and %d standard deviations", len(s.Mean), len(s.Std))
	}
	for j := range s.Mean {
		if !finite(s.Mean[j]) {
			return fmt.Errorf("features: standardizer mean %v of column %d is not finite", s.Mean[j], j)
		}
		if !finite(s.Std[j]) || s.Std[j] <= 0 {
			return fmt.Errorf("features: standardizer std %v of column %d is not finite and positive", s.Std[j], j)
		}
	}
	return nil
}

// Transform returns a new matrix holding X standardised. X is not modified.
// If the Standardizer is invalid or its dimension is not X's column count,
// every element of the result is NaN (see Validate and Dim to check first).
// A nil X gives an empty matrix.
func (s Standardizer) Transform(X mat.Matrix) *mat.Dense {
	if isNilMatrix(X) {
		return &mat.Dense{}
	}
	r, c := X.Dims()
	if r == 0 || c == 0 {
		return &mat.Dense{}
	}
	out := mat.NewDense(r, c, nil)
	out.Copy(X)
	s.TransformInPlace(out)
	return out
}

// TransformInPlace standardises X in place. If the Standardizer is invalid
// or its dimension is not X's column count, X is filled with NaN, so the
// mistake surfaces as an error in training or evaluation. A nil X is
// ignored.
func (s Standardizer) TransformInPlace(X *mat.Dense) {
	if X == nil || X.IsEmpty() {
		return
	}
	raw := X.RawMatrix()
	if s.Validate() != nil || len(s.Mean) != raw.Cols {
		for i := range raw.Rows {
			row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
			for j := range row {
				row[j] = math.NaN()
			}
		}
		return
	}
	for i := range raw.Rows {
		row := raw.Data[i*raw.Stride : i*raw.Stride+raw.Cols]
		for j := range row {
			row[j] = (row[j] - s.Mean[j]) / s.Std[j]
		}
	}
}
