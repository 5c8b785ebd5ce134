package secagg

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestFixedPointDefaults(t *testing.T) {
	var fp FixedPoint
	n, err := fp.MaxParticipants()
	if err != nil {
		t.Fatal(err)
	}
	// n·C·2^f < 2^63 with C·2^f = 2^32: n ≤ 2^31 − 1.
	if n != 1<<31-1 {
		t.Fatalf("MaxParticipants = %d, want 2^31-1", n)
	}
	if got, want := fp.ErrorBound(100), 100*math.Ldexp(1, -25); got != want {
		t.Fatalf("ErrorBound(100) = %g, want %g", got, want)
	}
	enc, err := fp.Encode(nil, []float64{0, 1, -1, 0.5, 256, -256, 1000, -1e300, math.Ldexp(1, -25), -math.Ldexp(1, -25)})
	if err != nil {
		t.Fatal(err)
	}
	want := []int64{0, 1 << 24, -1 << 24, 1 << 23, 1 << 32, -1 << 32, 1 << 32, -1 << 32, 1, -1} // ±2^-25 rounds away from zero
	for i, w := range want {
		if int64(enc[i]) != w {
			t.Errorf("Encode[%d] = %d, want %d", i, int64(enc[i]), w)
		}
	}
}

func TestFixedPointRejectsNonFinite(t *testing.T) {
	var fp FixedPoint
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := fp.Encode(nil, []float64{1, 2, bad})
		if !errors.Is(err, ErrNotFinite) || err.Error() != "secagg: NaN or infinite value at index 2" {
			t.Errorf("Encode(%v): %v", bad, err)
		}
	}
	for _, fp := range []FixedPoint{{Clip: -1}, {Clip: math.Inf(1)}, {FracBits: 63}, {Clip: 1 << 20, FracBits: 50}, {Clip: math.NaN()}} {
		if _, err := fp.Encode(nil, []float64{1}); !errors.Is(err, ErrParams) {
			t.Errorf("%+v: %v", fp, err)
		}
	}
	if _, err := (FixedPoint{}).Decode(nil, []uint64{1}, 1<<31); !errors.Is(err, ErrTooManyToDecode) {
		t.Errorf("Decode past the range: %v", err)
	}
}

// TestFixedPointErrorBound checks the documented bound against an exact sum
// (math/big) of the clipped inputs, for several (C, f), with inputs that
// overflow the clip on purpose.
func TestFixedPointErrorBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, fp := range []FixedPoint{{}, {Clip: 1, FracBits: 40}, {Clip: 4096, FracBits: 8}, {Clip: 0.25, FracBits: 60}} {
		c, _, _ := fp.resolve()
		for _, n := range []int{1, 7, 100, 1000} {
			t.Run(fmt.Sprintf("C=%g,f=%d,n=%d", c, fp.FracBits, n), func(t *testing.T) {
				const m = 50
				sum := make([]uint64, m)
				exact := make([]*big.Float, m)
				for j := range exact {
					exact[j] = new(big.Float).SetPrec(2000)
				}
				for range n {
					x := make([]float64, m)
					for j := range x {
						x[j] = (rng.Float64()*2 - 1) * c * 1.5 * math.Pow(2, float64(-rng.IntN(30)))
					}
					enc, err := fp.Encode(nil, x)
					if err != nil {
						t.Fatal(err)
					}
					for j := range x {
						sum[j] += enc[j]
						exact[j].Add(exact[j], big.NewFloat(min(max(x[j], -c), c)))
					}
				}
				dec, err := fp.Decode(nil, sum, n)
				if maxN, _ := fp.MaxParticipants(); n > maxN {
					if !errors.Is(err, ErrTooManyToDecode) {
						t.Fatalf("n = %d beyond %d decoded: %v", n, maxN, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				for j := range dec {
					e, _ := exact[j].Float64()
					bound := fp.ErrorBound(n) + math.Abs(e)*math.Ldexp(1, -53)
					diff := new(big.Float).Sub(big.NewFloat(dec[j]), exact[j])
					d, _ := diff.Float64()
					if math.Abs(d) > bound {
						t.Fatalf("coordinate %d: error %g exceeds bound %g", j, d, bound)
					}
				}
			})
		}
	}
}

func TestInts(t *testing.T) {
	counts := [][]int64{{3, 0, -2, 1 << 40}, {4, 1, 5, 1 << 40}, {-10, 7, 0, 0}}
	sum := make([]uint64, 4)
	for _, c := range counts {
		for j, w := range EncodeInts(nil, c) {
			sum[j] += w
		}
	}
	got := DecodeInts(nil, sum)
	want := []int64{-3, 8, 3, 1 << 41}
	for j := range want {
		if got[j] != want[j] {
			t.Fatalf("DecodeInts = %v, want %v", got, want)
		}
	}
}

func ExampleFixedPoint() {
	var fp FixedPoint // C = 256, f = 24
	a, _ := fp.Encode(nil, []float64{0.1, -2.5, 300})
	b, _ := fp.Encode(nil, []float64{0.2, 1.25, 1})
	sum := []uint64{a[0] + b[0], a[1] + b[1], a[2] + b[2]}
	dec, _ := fp.Decode(nil, sum, 2)
	fmt.Printf("%.6f %.6f %.6f\n", dec[0], dec[1], dec[2])
	// Output: 0.300000 -1.250000 257.000000
}
