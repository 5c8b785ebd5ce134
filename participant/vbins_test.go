package participant

import (
	"reflect"
	"testing"
)

// countedBins merges bins too small to count alone with a neighbour and
// lists empty bins in group 0.
func TestCountedBins(t *testing.T) {
	for _, c := range []struct {
		rows []int
		want [][]int
	}{
		{[]int{100, 80, 60}, [][]int{{0}, {1}, {2}}},
		{[]int{100, 80, 0}, [][]int{{0, 2}, {1}}},         // an empty missing bin
		{[]int{100, 80, 10}, [][]int{{0}, {1, 2}}},        // a rare missing bin joins the last value bin
		{[]int{20, 100, 30, 80}, [][]int{{0, 1}, {2, 3}}}, // the smallest first, with the next
		{[]int{0, 40, 30, 0}, [][]int{{1, 2, 0, 3}}},      // one group of 70
	} {
		got, err := countedBins(c.rows, 50)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Fatalf("countedBins(%v) = %v, %v; want %v", c.rows, got, err, c.want)
		}
	}
	if _, err := countedBins([]int{20, 10}, 50); err == nil {
		t.Fatal("30 rows in all made a counted bin of 50")
	}
}
