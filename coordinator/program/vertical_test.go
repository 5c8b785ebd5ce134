package program

import (
	"slices"
	"testing"
)

// Both data parties derive the same split from the job id alone; it
// covers every row once, has the size the coordinator computes, and
// differs between jobs.
func TestVerticalSplit(t *testing.T) {
	const n = 1001
	train, val := VerticalSplit("job-a", n, 0.2)
	nv, nt := VerticalSplitSizes(n, 0.2)
	if len(val) != nv || len(train) != nt || nv != 200 {
		t.Fatalf("sizes %d/%d, want %d/%d", len(val), len(train), nv, nt)
	}
	all := slices.Concat(train, val)
	slices.Sort(all)
	for i, r := range all {
		if r != i {
			t.Fatalf("row %d missing or repeated", i)
		}
	}
	if !slices.IsSorted(train) || !slices.IsSorted(val) {
		t.Fatal("split not in row order")
	}
	t2, v2 := VerticalSplit("job-a", n, 0.2)
	if !slices.Equal(t2, train) || !slices.Equal(v2, val) {
		t.Fatal("same job, different split")
	}
	if _, v3 := VerticalSplit("job-b", n, 0.2); slices.Equal(v3, val) {
		t.Fatal("another job got the same split")
	}
}
