package psi

import (
	"sync"
	"sync/atomic"
)

// parallel runs fn over [0, n) in chunks of at most chunk items on workers
// goroutines; each worker w takes the next chunk as soon as it is free, so
// a busy core does not hold the others back. fn receives the worker index.
func parallel(n, workers, chunk int, fn func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	workers = min(workers, (n+chunk-1)/chunk)
	if workers <= 1 {
		fn(0, 0, n)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= n {
					return
				}
				fn(w, lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
}
