package psi

import (
	"os"
	"strconv"
	"testing"
)

// BenchmarkPSI runs Bench at FEDSCORE_PSI_BENCH_IDS ids per side (default
// 100,000; the acceptance figure is 1,000,000) for each protocol, so the
// OPRF protocol's speed-up over ECDH is measured in the same run.
func BenchmarkPSI(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("FEDSCORE_PSI_BENCH_IDS")); err == nil && v > 1 {
		n = v
	}
	for _, p := range protocols {
		b.Run(p.String(), func(b *testing.B) {
			for b.Loop() {
				r, err := Bench(n, p)
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(r.WallS, "wall_s")
				b.ReportMetric(r.IDsPerS, "ids/s")
			}
		})
	}
}
