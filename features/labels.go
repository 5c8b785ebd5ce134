package features

import (
	"errors"
	"fmt"
	"math"

	"github.com/fedscore/fedscore/datasets"
)

// BinaryLabels returns a column as 0/1 labels. With positive == "" the
// column must be numeric (Float, Int or Bool) holding only 0 and 1. With a
// positive value, a row is 1 when its text (Column.Format, so "yes", "2" or
// "true") equals positive and 0 otherwise, which turns a String label such
// as the bank marketing "y" column into 0/1. A null label is an error.
func BinaryLabels(c *datasets.Column, positive string) ([]float64, error) {
	if c == nil {
		return nil, errors.New("features: nil label column")
	}
	y := make([]float64, c.Len())
	for i := range y {
		if c.IsNull(i) {
			return nil, fmt.Errorf("features: label %q is null at row %d", c.Name, i)
		}
		if positive != "" {
			if c.Format(i) == positive {
				y[i] = 1
			}
			continue
		}
		if c.Kind == datasets.String {
			return nil, fmt.Errorf("features: label %q is String; name the positive value", c.Name)
		}
		v := c.Float[i]
		if v != 0 && v != 1 {
			return nil, fmt.Errorf("features: label %q is %v at row %d, want 0 or 1", c.Name, v, i)
		}
		y[i] = v
	}
	return y, nil
}

// ClassLabels returns a numeric column of class indexes 0..k-1 as float64
// labels, checking every value is an integer in that range and not null.
func ClassLabels(c *datasets.Column, k int) ([]float64, error) {
	if c == nil {
		return nil, errors.New("features: nil label column")
	}
	if k < 2 {
		return nil, fmt.Errorf("features: %d classes, want at least 2", k)
	}
	if c.Kind == datasets.String {
		return nil, fmt.Errorf("features: label %q is String, want class indexes 0..%d", c.Name, k-1)
	}
	y := make([]float64, c.Len())
	for i, v := range c.Float {
		if c.IsNull(i) || v != math.Trunc(v) || v < 0 || v >= float64(k) {
			return nil, fmt.Errorf("features: label %q at row %d is not a class in 0..%d", c.Name, i, k-1)
		}
		y[i] = v
	}
	return y, nil
}

// checkLabels validates class labels for k classes against n rows.
func checkLabels(y []float64, n, k int) error {
	if len(y) != n {
		return fmt.Errorf("features: %d labels for %d rows", len(y), n)
	}
	for i, v := range y {
		if !(v >= 0 && v < float64(k)) || v != math.Trunc(v) {
			return fmt.Errorf("features: label %v at row %d is not a class in 0..%d", v, i, k-1)
		}
	}
	return nil
}
