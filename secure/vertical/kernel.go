package vertical

import "sync"

// Kernels. Every matrix is row-major with cols columns. They are
// memory-bound or close to it, so each makes one pass over its rows, four
// columns at a time (this indexed form measured faster here than the
// re-slicing one that drops the bounds checks), and splits the rows over workers goroutines when the pass is big enough
// to pay for them.

const minRowsPerWorker = 512

// split runs fn over [0, rows) cut into at most workers parts and returns
// the number of parts.
func split(rows, cols, workers int, fn func(part, lo, hi int)) int {
	parts := min(workers, max(1, rows*cols/(minRowsPerWorker*64)), rows)
	if parts <= 1 {
		fn(0, 0, rows)
		return 1
	}
	var wg sync.WaitGroup
	per := (rows + parts - 1) / parts
	for p := range parts {
		lo, hi := p*per, min((p+1)*per, rows)
		wg.Go(func() { fn(p, lo, hi) })
	}
	wg.Wait()
	return parts
}

// dotI32 is Σ_j row[j]·w[j]; len(w) ≥ len(row).
func dotI32(row []int32, w []float64) float64 {
	var s0, s1, s2, s3 float64
	n := len(row)
	j := 0
	for ; j+4 <= n; j += 4 {
		s0 += float64(row[j]) * w[j]
		s1 += float64(row[j+1]) * w[j+1]
		s2 += float64(row[j+2]) * w[j+2]
		s3 += float64(row[j+3]) * w[j+3]
	}
	for ; j < n; j++ {
		s0 += float64(row[j]) * w[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyI32 adds row·v to acc mod 2^64; len(acc) ≥ len(row).
func axpyI32(acc []uint64, row []int32, v uint64) {
	n := len(row)
	j := 0
	for ; j+4 <= n; j += 4 {
		acc[j] += uint64(int64(row[j])) * v
		acc[j+1] += uint64(int64(row[j+1])) * v
		acc[j+2] += uint64(int64(row[j+2])) * v
		acc[j+3] += uint64(int64(row[j+3])) * v
	}
	for ; j < n; j++ {
		acc[j] += uint64(int64(row[j])) * v
	}
}

// dotF64 is Σ_j row[j]·w[j]; len(w) ≥ len(row).
func dotF64(row, w []float64) float64 {
	var s0, s1, s2, s3 float64
	n := len(row)
	j := 0
	for ; j+4 <= n; j += 4 {
		s0 += row[j] * w[j]
		s1 += row[j+1] * w[j+1]
		s2 += row[j+2] * w[j+2]
		s3 += row[j+3] * w[j+3]
	}
	for ; j < n; j++ {
		s0 += row[j] * w[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyF64 adds row·v to acc; len(acc) ≥ len(row).
func axpyF64(acc, row []float64, v float64) {
	n := len(row)
	j := 0
	for ; j+4 <= n; j += 4 {
		acc[j] += row[j] * v
		acc[j+1] += row[j+1] * v
		acc[j+2] += row[j+2] * v
		acc[j+3] += row[j+3] * v
	}
	for ; j < n; j++ {
		acc[j] += row[j] * v
	}
}

// sumParts adds the per-part accumulators into out.
func sumParts(out []uint64, partial [][]uint64, parts int) {
	copy(out, partial[0])
	for p := 1; p < parts; p++ {
		for j, a := range partial[p] {
			out[j] += a
		}
	}
}

// mulVecI32 sets out[i] = Σ_j x[i,j]·w[j] for the rows of x.
func mulVecI32(x []int32, cols int, w, out []float64, workers int) {
	split(len(out), cols, workers, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i] = dotI32(x[i*cols:(i+1)*cols], w)
		}
	})
}

// mulTVecI32 sets out[j] = Σ_i x[i,j]·v[i] mod 2^64 for the rows of x.
func mulTVecI32(x []int32, cols int, v, out []uint64, workers int) {
	partial := make([][]uint64, workers)
	parts := split(len(v), cols, workers, func(p, lo, hi int) {
		acc := make([]uint64, cols)
		for i := lo; i < hi; i++ {
			axpyI32(acc, x[i*cols:(i+1)*cols], v[i])
		}
		partial[p] = acc
	})
	sumParts(out, partial, parts)
}

// mulTVecU64 sets out[j] = Σ_i m[i,j]·v[i] mod 2^64 for the rows of m.
func mulTVecU64(m []uint64, cols int, v, out []uint64, workers int) {
	partial := make([][]uint64, workers)
	parts := split(len(v), cols, workers, func(p, lo, hi int) {
		acc := make([]uint64, cols)
		for i := lo; i < hi; i++ {
			row := m[i*cols : (i+1)*cols]
			vi := v[i]
			j := 0
			for ; j+4 <= cols; j += 4 {
				acc[j] += row[j] * vi
				acc[j+1] += row[j+1] * vi
				acc[j+2] += row[j+2] * vi
				acc[j+3] += row[j+3] * vi
			}
			for ; j < cols; j++ {
				acc[j] += row[j] * vi
			}
		}
		partial[p] = acc
	})
	sumParts(out, partial, parts)
}

// fusedPartner is the partner's whole pass over a batch, one row at a time
// while the row is in cache: u_i = x_i·ws (ws = w/2^f),
// d4_i = encode(clip(u_i)) − sub_i, and acc += x_i·(fv_i + d4_i) mod 2^64.
// It reports whether some u_i was NaN.
func fusedPartner(x []int32, cols int, ws []float64, bound, scale float64, sub, fv, d4, acc []uint64, workers int) bool {
	partial := make([][]uint64, workers)
	nan := make([]bool, workers)
	parts := split(len(d4), cols, workers, func(p, lo, hi int) {
		a := make([]uint64, cols)
		for i := lo; i < hi; i++ {
			row := x[i*cols : (i+1)*cols]
			u := dotI32(row, ws)
			if u != u {
				nan[p] = true
			}
			d := encode(u, bound, scale) - sub[i]
			d4[i] = d
			axpyI32(a, row, fv[i]+d)
		}
		partial[p] = a
	})
	sumParts(acc, partial, parts)
	for _, b := range nan {
		if b {
			return true
		}
	}
	return false
}
