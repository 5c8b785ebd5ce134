package vertical

import (
	"os"
	"strconv"
	"testing"
)

// BenchmarkVertical runs Bench at FEDSCORE_VERTICAL_BENCH_ROWS rows
// (default 20,000; the acceptance shape is 100,000) × (30 + 300).
func BenchmarkVertical(b *testing.B) {
	n := 20_000
	if v, err := strconv.Atoi(os.Getenv("FEDSCORE_VERTICAL_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		r, err := Bench(n, 30, 300)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.EpochS, "epoch_s")
		b.ReportMetric(r.PlainEpochS, "plain_epoch_s")
		b.ReportMetric(r.Ratio, "ratio")
		b.ReportMetric(r.SetupS, "setup_s")
	}
}
