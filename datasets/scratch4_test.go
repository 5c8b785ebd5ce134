package datasets

import (
	"bytes"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

func TestScratchMutate(t *testing.T) {
	var buf bytes.Buffer
	WriteParquetTo(&buf, allKinds())
	seed := buf.Bytes()
	rng := rand.New(rand.NewPCG(1, 1))
	var ms runtime.MemStats
	for it := 0; it < 30000; it++ {
		d := append([]byte(nil), seed...)
		for k := 0; k < 1+rng.IntN(4); k++ {
			i := rng.IntN(len(d))
			switch rng.IntN(3) {
			case 0:
				d[i] = byte(rng.IntN(256))
			case 1:
				d[i] ^= 1 << rng.IntN(8)
			case 2:
				d[i] = []byte{0, 0xff, 0x7f, 0x80}[rng.IntN(4)]
			}
		}
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		t0 := time.Now()
		_, err := ReadParquetFrom(bytes.NewReader(d), int64(len(d)), "m")
		el := time.Since(t0)
		runtime.ReadMemStats(&ms)
		if el > 200*time.Millisecond || ms.TotalAlloc-before > 100<<20 {
			t.Logf("it %d: %v, alloc %d MB, err %v", it, el, (ms.TotalAlloc-before)>>20, err)
		}
	}
}
