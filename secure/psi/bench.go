package psi

import (
	"fmt"
	"strconv"
	"time"
)

// BenchResult is what Bench measured.
type BenchResult struct {
	Protocol     string  `json:"protocol"`
	IDs          int     `json:"ids"`          // ids per side
	Intersection int     `json:"intersection"` // size found
	WallS        float64 `json:"wall_s"`       // both sides, hashing to result
	IDsPerS      float64 `json:"ids_per_s"`    // ids per side per second of wall time
}

// Bench runs both sides of protocol proto (0: the default) in this process on two sets of ids ids, half
// overlapping, with every core (GOMAXPROCS workers), and times the whole
// protocol from validating and hashing the ids to both sides holding the
// intersection, every message passing through its wire encoding. Building
// the id strings is not timed. It checks the intersection it finds.
func Bench(ids int, proto Protocol) (BenchResult, error) {
	if ids < 2 {
		return BenchResult{}, fmt.Errorf("%w: bench needs at least 2 ids", ErrConfig)
	}
	bankIDs := make([]string, ids)
	partnerIDs := make([]string, ids)
	half := ids / 2
	for i := range ids {
		bankIDs[i] = "customer-" + strconv.Itoa(i)
		partnerIDs[i] = "customer-" + strconv.Itoa(i+half)
	}
	if proto == 0 {
		proto = ProtocolOPRF
	}
	c := Config{Job: "bench-psi-" + strconv.Itoa(ids), Protocol: proto}
	start := time.Now()
	bank, partner, err := RunLocal(c, bankIDs, partnerIDs, nil)
	wall := time.Since(start).Seconds()
	if err != nil {
		return BenchResult{}, err
	}
	want := ids - half
	if bank.Size != want || partner.Size != want {
		return BenchResult{}, fmt.Errorf("psi: bench found %d/%d common ids, want %d", bank.Size, partner.Size, want)
	}
	for i := range bank.Rows {
		if bankIDs[bank.Rows[i]] != partnerIDs[partner.Rows[i]] {
			return BenchResult{}, fmt.Errorf("psi: bench rows disagree at %d", i)
		}
	}
	return BenchResult{Protocol: c.Protocol.String(), IDs: ids, Intersection: bank.Size, WallS: wall, IDsPerS: float64(ids) / wall}, nil
}
