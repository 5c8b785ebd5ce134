package datasets

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzReadCSV checks that no input makes ReadCSVFrom panic, and that what
// it returns is a valid table.
func FuzzReadCSV(f *testing.F) {
	for _, s := range []string{
		"id,x,default\n1,2.5,0\n2,,1\n",
		"a,b\n\"q\"\"uote\",true\nNA,false\n",
		"a\n9007199254740993\n",
		"a,b\n1\n",
		"",
		"\ufeffa,,a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ReadCSVFrom(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "datasets: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if err := tab.Validate(); err != nil {
			t.Fatalf("ReadCSVFrom returned an invalid table: %v", err)
		}
		_, _ = Schema{}.Frame(tab, "fuzz.csv")
	})
}

// FuzzReadParquet checks that no input makes ReadParquetFrom panic, and
// that what it returns is a valid table. The seeds are small valid files.
func FuzzReadParquet(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteParquetTo(&buf, allKinds()); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	w, err := Synthesize(SynthConfig{Customers: 20, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	buf.Reset()
	if err := writeParquet(&buf, w.Table, 8); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte("PAR1PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := ReadParquetFrom(bytes.NewReader(data), int64(len(data)), "fuzz.parquet")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "datasets: ") {
				t.Fatalf("error %q lacks the package prefix", err)
			}
			return
		}
		if err := tab.Validate(); err != nil {
			t.Fatalf("ReadParquetFrom returned an invalid table: %v", err)
		}
	})
}
