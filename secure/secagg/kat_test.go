package secagg

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/kat.json from this implementation (go test -run TestKnownAnswer -args -update)")

// katFile is a known-answer transcript: with the deterministic reader
// ChaCha8(seed) (c2sp.org/chacha8rand) drawn on by the participants in index
// order, phase by phase, the round must produce exactly these messages and
// this sum. The vectors were recorded from this implementation (wire format
// and key derivations v1); the sum is checked independently against the
// plain sum of the inputs. They pin the wire format, every key derivation,
// the Shamir sharing and the PRG, so that mixed versions cannot silently
// disagree.
type katFile struct {
	Comment      string              `json:"comment"`
	Job          string              `json:"job"`
	Round        uint64              `json:"round"`
	Participants []string            `json:"participants"`
	VectorLens   []int               `json:"vector_lens"`
	Seed         string              `json:"seed"` // 32 bytes, hex
	Inputs       [][][]uint64        `json:"inputs"`
	Drop         map[string][]uint32 `json:"drop"`
	Messages     []katMessage        `json:"messages"`
	Survivors    []uint32            `json:"survivors"`
	Sum          [][]uint64          `json:"sum"`
}

type katMessage struct {
	From uint32 `json:"from"`
	To   uint32 `json:"to"`
	Hex  string `json:"hex"`
}

func katRun(t *testing.T, k *katFile) *katFile {
	t.Helper()
	seed, err := hex.DecodeString(k.Seed)
	if err != nil || len(seed) != 32 {
		t.Fatalf("bad seed %q", k.Seed)
	}
	drop := Dropouts{}
	for name, ids := range k.Drop {
		for _, ph := range []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmasking} {
			if ph.String() == name {
				drop[ph] = ids
			}
		}
	}
	out := *k
	out.Messages = nil
	p := Params{Job: k.Job, Round: k.Round, Participants: k.Participants, VectorLens: k.VectorLens}
	res, err := RunLocal(LocalConfig{Params: p, Inputs: k.Inputs, Drop: drop, Rand: chacha(seed),
		Trace: func(from, to uint32, b []byte) {
			out.Messages = append(out.Messages, katMessage{From: from, To: to, Hex: hex.EncodeToString(b)})
		}})
	if err != nil {
		t.Fatal(err)
	}
	out.Survivors, out.Sum = res.Survivors, res.Sum
	if !equalVectors(res.Sum, plainSum(k.Inputs, res.Survivors, k.VectorLens)) {
		t.Fatal("known-answer round: sum differs from the plain sum")
	}
	return &out
}

func TestKnownAnswer(t *testing.T) {
	path := filepath.Join("testdata", "kat.json")
	if *update {
		k := &katFile{
			Comment:      "secagg v1 known-answer transcript; regenerate with go test -run TestKnownAnswer -args -update",
			Job:          "kat-job",
			Round:        42,
			Participants: []string{"bank", "partner-a", "partner-b", "partner-c"},
			VectorLens:   []int{3, 2},
			Seed:         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			Inputs: [][][]uint64{
				{{1, 2, 3}, {1 << 63, 0}},
				{{10, 20, 30}, {1, 1}},
				{{100, 200, 300}, {^uint64(0), 2}},
				{{1000, 2000, 3000}, {5, 5}},
			},
			Drop: map[string][]uint32{PhaseMaskedInput.String(): {3}},
		}
		got := katRun(t, k)
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want katFile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	got := katRun(t, &want)
	if len(got.Messages) != len(want.Messages) {
		t.Fatalf("%d messages, want %d", len(got.Messages), len(want.Messages))
	}
	for i := range want.Messages {
		g, w := got.Messages[i], want.Messages[i]
		if g.From != w.From || g.To != w.To || g.Hex != w.Hex {
			wb, _ := hex.DecodeString(w.Hex)
			gb, _ := hex.DecodeString(g.Hex)
			m, _ := Unmarshal(wb)
			t.Fatalf("message %d (%T, %d→%d) differs; first differing byte %d", i, m, w.From, w.To, firstDiff(gb, wb))
		}
	}
	if !slices.Equal(got.Survivors, want.Survivors) || !equalVectors(got.Sum, want.Sum) {
		t.Fatalf("survivors/sum %v %v, want %v %v", got.Survivors, got.Sum, want.Survivors, want.Sum)
	}
	// The inputs sum to the recorded sum (independent of the protocol).
	if !equalVectors(want.Sum, plainSum(want.Inputs, want.Survivors, want.VectorLens)) {
		t.Fatal("recorded sum is not the plain sum of the recorded inputs")
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if bytes.Equal(a, b) {
		return -1
	}
	return min(len(a), len(b))
}
