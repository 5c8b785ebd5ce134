package scores

import (
	"bytes"
	"testing"
)

// FuzzDecodeValue feeds arbitrary bytes to the decoder of stored values: it
// must never panic, and whatever it accepts must re-encode to the same bytes
// (the encoding is canonical) and be a value Publish would have accepted.
func FuzzDecodeValue(f *testing.F) {
	for _, r := range []Row{
		{CustomerID: "c", PD: 0.5, Points: 600, Tier: "A"},
		{CustomerID: "c", PD: 1, Points: -1e300, Tier: "EEEE", Reasons: []string{"a", "bb", "ccc"}},
	} {
		f.Add(appendValue(nil, &r, 1700000000123456789))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v view
		if decodeValue(b, &v) != nil {
			return
		}
		r := Row{CustomerID: "x", PD: v.pd, Points: v.points, Tier: string(v.tier)}
		for i := 0; i < v.nreasons; i++ {
			r.Reasons = append(r.Reasons, string(v.reasons[i]))
		}
		if got := appendValue(nil, &r, v.scoredAt); !bytes.Equal(got, b) {
			t.Fatalf("decoded %x, re-encoded %x", b, got)
		}
		r.ScoredAt = unixNano(v.scoredAt)
		if p := r.problem(); p != "" && !bytes.Contains([]byte(p), []byte("comma")) && !bytes.Contains([]byte(p), []byte("scored-at")) {
			t.Fatalf("decoded a value Publish refuses: %s", p)
		}
	})
}

// FuzzParseTicket feeds arbitrary bytes to the Flight ticket parser, which
// reads them from the network: no panic, and an accepted ticket is valid.
func FuzzParseTicket(f *testing.F) {
	f.Add([]byte(`{"model_version":"v3","tiers":["A","B"]}`))
	f.Add([]byte(`{"modelVersion":"v3"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"tiers":["A,B"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := ParseTicket(b)
		if err != nil {
			return
		}
		for _, tier := range tk.Tiers {
			if labelProblem("tier", tier, MaxTierBytes) != "" {
				t.Fatalf("accepted tier %q", tier)
			}
		}
	})
}
