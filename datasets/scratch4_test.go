package datasets

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

func TestScratchMutate(t *testing.T) {
	var buf bytes.Buffer
	WriteParquetTo(&buf, allKinds())
	seeds := [][]byte{append([]byte(nil), buf.Bytes()...)}
	w, _ := Synthesize(SynthConfig{Customers: 20, Seed: 1})
	buf.Reset()
	writeParquet(&buf, w.Table, 8)
	seeds = append(seeds, buf.Bytes())
	rng := rand.New(rand.NewPCG(2, 1))
	for it := 0; it < 200000; it++ {
		seed := seeds[rng.IntN(2)]
		d := append([]byte(nil), seed...)
		for k := 0; k < 1+rng.IntN(6); k++ {
			i := rng.IntN(len(d))
			switch rng.IntN(5) {
			case 0:
				d[i] = byte(rng.IntN(256))
			case 1:
				d[i] ^= 1 << rng.IntN(8)
			case 2:
				d[i] = []byte{0, 0xff, 0x7f, 0x80, 0x0f, 0xf0}[rng.IntN(6)]
			case 3:
				d = append(d[:i], d[i+1:]...)
			case 4:
				d = append(d[:i], append([]byte{byte(rng.IntN(256))}, d[i:]...)...)
			}
		}
		done := make(chan struct{})
		go func() {
			ReadParquetFrom(bytes.NewReader(d), int64(len(d)), "m")
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			os.WriteFile("/tmp/hang.bin", d, 0o644)
			t.Fatalf("it %d: hang", it)
		}
	}
}
