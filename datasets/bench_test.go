package datasets

import (
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkReadParquet reads a file of 200k rows x 20 float columns.
func BenchmarkReadParquet(b *testing.B) {
	const rows, cols = 200_000, 20
	rng := rand.New(rand.NewPCG(1, 2))
	tab := &Table{}
	for j := range cols {
		c := &Column{Name: "x" + strconv.Itoa(j), Kind: Float, Float: make([]float64, rows)}
		for i := range c.Float {
			c.Float[i] = rng.NormFloat64()
		}
		tab.Columns = append(tab.Columns, c)
	}
	path := filepath.Join(b.TempDir(), "bench.parquet")
	if err := WriteParquet(path, tab); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(rows * cols * 8)
	b.ResetTimer()
	for b.Loop() {
		got, err := ReadParquet(path)
		if err != nil {
			b.Fatal(err)
		}
		if got.Rows() != rows {
			b.Fatalf("%d rows", got.Rows())
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWriteParquet writes 100k synthetic wallet customers.
func BenchmarkWriteParquet(b *testing.B) {
	w, err := Synthesize(SynthConfig{Customers: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "wallet.parquet")
	b.ResetTimer()
	for b.Loop() {
		if err := WriteParquet(path, w.Table); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkSynthesize draws 100k wallet customers.
func BenchmarkSynthesize(b *testing.B) {
	for b.Loop() {
		if _, err := Synthesize(SynthConfig{Customers: 100_000, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkReadCSV reads 100k synthetic wallet customers from CSV.
func BenchmarkReadCSV(b *testing.B) {
	w, err := Synthesize(SynthConfig{Customers: 100_000, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "wallet.csv")
	if err := WriteCSV(path, w.Table); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadCSV(path); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(100_000*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
