package psi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cloudflare/circl/dh/x25519"
)

func seeded(seed uint64) io.Reader {
	var s [32]byte
	s[0], s[1] = byte(seed), byte(seed>>8)
	return mrand.NewChaCha8(s)
}

// plainIntersection is the reference: ids common to both lists.
func plainIntersection(a, b []string) map[string]bool {
	in := map[string]bool{}
	for _, x := range a {
		in[strings.TrimSpace(x)] = true
	}
	out := map[string]bool{}
	for _, y := range b {
		if in[strings.TrimSpace(y)] {
			out[strings.TrimSpace(y)] = true
		}
	}
	return out
}

func checkAgainstPlain(t *testing.T, c Config, bankIDs, partnerIDs []string) {
	t.Helper()
	bank, partner, err := RunLocal(c, bankIDs, partnerIDs, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := plainIntersection(bankIDs, partnerIDs)
	if bank.Size != len(want) || partner.Size != len(want) || len(bank.Rows) != len(want) {
		t.Fatalf("sizes bank %d partner %d rows %d, want %d", bank.Size, partner.Size, len(bank.Rows), len(want))
	}
	got := map[string]bool{}
	for _, r := range bank.Rows {
		got[strings.TrimSpace(bankIDs[r])] = true
	}
	if len(got) != len(want) {
		t.Fatalf("bank rows repeat: %d distinct of %d", len(got), len(bank.Rows))
	}
	for id := range want {
		if !got[id] {
			t.Fatalf("bank misses %q", id)
		}
	}
	if c.BankOnly {
		if partner.Rows != nil {
			t.Fatal("partner learnt rows under BankOnly")
		}
		return
	}
	if len(partner.Rows) != len(bank.Rows) {
		t.Fatalf("partner has %d rows, bank %d", len(partner.Rows), len(bank.Rows))
	}
	for i := range bank.Rows {
		if b, p := strings.TrimSpace(bankIDs[bank.Rows[i]]), strings.TrimSpace(partnerIDs[partner.Rows[i]]); b != p {
			t.Fatalf("agreed order broken at %d: bank %q, partner %q", i, b, p)
		}
	}
}

// TestAgainstPlainIntersection is a seeded property test: random sets,
// overlaps, batch sizes, worker counts and modes all give the plain
// intersection, in one order on both sides.
func TestAgainstPlainIntersection(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(7, 11))
	trials := 40
	if testing.Short() {
		trials = 12
	}
	for trial := range trials {
		universe := 1 + rng.IntN(400)
		var bankIDs, partnerIDs []string
		pb, pp := rng.Float64(), rng.Float64()
		for i := range universe {
			id := fmt.Sprintf("id-%d-%x", i, rng.Uint32())
			if rng.Float64() < pb {
				bankIDs = append(bankIDs, id)
			}
			if rng.Float64() < pp {
				// White space around an id must not matter.
				if rng.IntN(4) == 0 {
					id = " " + id + "\t"
				}
				partnerIDs = append(partnerIDs, id)
			}
		}
		if len(bankIDs) == 0 || len(partnerIDs) == 0 {
			continue
		}
		rng.Shuffle(len(bankIDs), func(i, j int) { bankIDs[i], bankIDs[j] = bankIDs[j], bankIDs[i] })
		c := Config{
			Job:       fmt.Sprintf("job-%d", trial),
			Protocol:  protocols[trial%2],
			BankOnly:  trial%3 == 0,
			BatchSize: []int{1, 3, 17, 64, 1000}[rng.IntN(5)],
			Workers:   1 + rng.IntN(3),
			Rand:      seeded(uint64(trial)),
		}
		t.Run(fmt.Sprintf("%d/%dx%d/bs%d", trial, len(bankIDs), len(partnerIDs), c.BatchSize), func(t *testing.T) {
			checkAgainstPlain(t, c, bankIDs, partnerIDs)
		})
	}
}

// protocols are both protocols, for tests that hold for each.
var protocols = []Protocol{ProtocolOPRF, ProtocolECDH}

func TestDisjointAndIdentical(t *testing.T) {
	a := []string{"a", "b", "c"}
	for _, p := range protocols {
		t.Run(p.String(), func(t *testing.T) {
			checkAgainstPlain(t, Config{Protocol: p, Job: "j", Rand: seeded(1)}, a, []string{"x", "y"})
			checkAgainstPlain(t, Config{Protocol: p, Job: "j", Rand: seeded(2), BatchSize: 2}, a, []string{"c", "b", "a"})
			checkAgainstPlain(t, Config{Protocol: p, Job: "j", Rand: seeded(3), BankOnly: true}, a, []string{"x"})
			checkAgainstPlain(t, Config{Protocol: p, Job: "j", Rand: seeded(4)}, []string{"only"}, []string{"only"})
		})
	}
}

func TestBadIDs(t *testing.T) {
	tests := []struct {
		name  string
		ids   []string
		want  error
		count int
		row   int
		text  string
	}{
		{"empty", []string{"a", "", "b", "  "}, ErrEmptyID, 2, 1, "2 id(s), e.g. row 1"},
		{"non-UTF-8", []string{"a", "b\xff", "c", "\xc3"}, ErrInvalidUTF8, 2, 1, `e.g. row 1 "b\xff"`},
		{"duplicate", []string{"a", "b", " a", "b", "c"}, ErrDuplicateID, 2, 2, "(first at row 0)"},
		{"duplicate after trimming", []string{"x1", "x1\n"}, ErrDuplicateID, 1, 1, `"x1\n"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, side := range []string{"bank", "partner", "oprf-bank", "oprf-partner"} {
				var err error
				c := Config{Protocol: ProtocolECDH, Job: "j", Rand: seeded(1), Workers: 2}
				switch side {
				case "bank":
					_, err = NewBank(c, tc.ids)
				case "partner":
					_, err = NewPartner(c, tc.ids)
				case "oprf-bank":
					c.Protocol = ProtocolOPRF
					_, err = NewOPRFBank(c, tc.ids)
				default:
					c.Protocol = ProtocolOPRF
					_, err = NewOPRFPartner(c, tc.ids)
				}
				var ie *IDError
				if !errors.Is(err, tc.want) || !errors.As(err, &ie) {
					t.Fatalf("%s: got %v, want %v", side, err, tc.want)
				}
				if ie.Count != tc.count || ie.Row != tc.row || !strings.Contains(err.Error(), tc.text) {
					t.Fatalf("%s: %q: count %d row %d, want %d, %d and %q", side, err, ie.Count, ie.Row, tc.count, tc.row, tc.text)
				}
				if !strings.HasPrefix(err.Error(), "psi: ") {
					t.Fatalf("error not prefixed: %q", err)
				}
			}
		})
	}
	if _, err := NewBank(Config{Protocol: ProtocolECDH, Job: "j"}, nil); !errors.Is(err, ErrNoIDs) {
		t.Fatalf("no ids: %v", err)
	}
	if _, err := NewBank(Config{Protocol: ProtocolECDH}, []string{"a"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("no job: %v", err)
	}
	// The normaliser hook runs after trimming and can refuse.
	upper := func(s string) (string, error) {
		if strings.HasPrefix(s, "!") {
			return "", errors.New("bang")
		}
		return strings.ToUpper(s), nil
	}
	if _, err := NewBank(Config{Protocol: ProtocolECDH, Job: "j", Normalize: upper}, []string{"a", "!b"}); !errors.Is(err, ErrNormalize) || !strings.Contains(err.Error(), "bang") {
		t.Fatalf("normaliser refusal: %v", err)
	}
	if _, err := NewBank(Config{Protocol: ProtocolECDH, Job: "j", Normalize: upper}, []string{"a", "A"}); !errors.Is(err, ErrDuplicateID) {
		t.Fatalf("normalised duplicates: %v", err)
	}
}

// TestDomainSeparation: the same ids hashed under two jobs never match, and
// a party refuses the other's messages for another job.
func TestDomainSeparation(t *testing.T) {
	if HashID("job-a", "alice") == HashID("job-b", "alice") {
		t.Fatal("hash ignores the job")
	}
	if HashID("ab", "c") == HashID("a", "bc") {
		t.Fatal("job and id run together")
	}
	ids := []string{"alice", "bob", "carol", "dave"}
	b, err := NewBank(Config{Protocol: ProtocolECDH, Job: "job-a", Rand: seeded(1)}, ids)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPartner(Config{Protocol: ProtocolECDH, Job: "job-b", Rand: seeded(2)}, ids)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReceiveHello(b.Hello()); !errors.Is(err, ErrWrongJob) {
		t.Fatalf("hello for another job: %v", err)
	}
	// Force the partner's job label to job-a after hashing under job-b:
	// the protocol then runs to the end and finds nothing in common.
	p.cfg.Job = "job-a"
	if err := p.ReceiveHello(b.Hello()); err != nil {
		t.Fatal(err)
	}
	if err := b.ReceiveHello(p.Hello()); err != nil {
		t.Fatal(err)
	}
	m, _ := b.NextBlinded()
	d, err := p.Double(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ReceiveDoubled(d); err != nil {
		t.Fatal(err)
	}
	pm, _ := p.NextBlinded()
	if err := b.ReceivePartner(pm); err != nil {
		t.Fatal(err)
	}
	got, _, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != 0 {
		t.Fatalf("%d matches across jobs", got.Size)
	}
}

// TestCommutative checks the property the protocol rests on, with circl's
// clamping: X25519(a, X25519(b, u)) = X25519(b, X25519(a, u)).
func TestCommutative(t *testing.T) {
	r := seeded(5)
	for i := range 50 {
		var a, b, u, ab, ba, t1, t2 x25519.Key
		io.ReadFull(r, a[:])
		io.ReadFull(r, b[:])
		u = HashID("j", fmt.Sprint(i))
		if !x25519.Shared(&t1, &a, &u) || !x25519.Shared(&ab, &b, &t1) ||
			!x25519.Shared(&t2, &b, &u) || !x25519.Shared(&ba, &a, &t2) {
			t.Fatal("low order")
		}
		if ab != ba {
			t.Fatalf("not commutative at %d", i)
		}
	}
}

// TestDeterministicTwin: the same randomness gives the same transcript.
func TestDeterministicTwin(t *testing.T) {
	run := func() [][]byte {
		var tr [][]byte
		c := Config{Protocol: ProtocolECDH, Job: "twin", BatchSize: 5, Rand: seeded(9)}
		_, _, err := RunLocal(c, []string{"a", "b", "c", "d", "e", "f", "g"}, []string{"c", "d", "x", "y", "g"},
			func(_ Role, m []byte) { tr = append(tr, slices.Clone(m)) })
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	a, b := run(), run()
	if len(a) != len(b) {
		t.Fatal("transcript lengths differ")
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
}

// TestTranscriptHidesIDs: no message carries an id, its hash, or a point
// that repeats across the two directions (the blinded points of common ids
// differ, because they are raised to different secrets).
func TestTranscriptHidesIDs(t *testing.T) {
	ids := []string{"alice", "bob", "carol"}
	for _, p := range protocols {
		var all []byte
		_, _, err := RunLocal(Config{Protocol: p, Job: "j", Rand: seeded(3)}, ids, ids, func(_ Role, m []byte) { all = append(all, m...) })
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			h := HashID("j", id)
			if bytes.Contains(all, []byte(id)) || bytes.Contains(all, h[:8]) {
				t.Fatalf("%v: transcript carries %q or its hash", p, id)
			}
		}
	}
}

func TestProtocolRefusals(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	newPair := func(bankOnlyB, bankOnlyP bool) (*Bank, *Partner) {
		b, err := NewBank(Config{Protocol: ProtocolECDH, Job: "j", BatchSize: 2, BankOnly: bankOnlyB, Rand: seeded(1)}, ids)
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPartner(Config{Protocol: ProtocolECDH, Job: "j", BatchSize: 2, BankOnly: bankOnlyP, Rand: seeded(2)}, ids)
		if err != nil {
			t.Fatal(err)
		}
		return b, p
	}
	b, p := newPair(true, false)
	if err := p.ReceiveHello(b.Hello()); !errors.Is(err, ErrModeMismatch) {
		t.Fatalf("mode mismatch: %v", err)
	}
	b, p = newPair(false, false)
	m, _ := b.NextBlinded()
	if _, err := p.Double(m); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("batch before hello: %v", err)
	}
	if err := p.ReceiveHello(b.Hello()); err != nil {
		t.Fatal(err)
	}
	if err := p.ReceiveHello(b.Hello()); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("second hello: %v", err)
	}
	if err := b.ReceiveHello(b.Hello()); !errors.Is(err, ErrWrongRole) {
		t.Fatalf("own hello: %v", err)
	}
	if err := b.ReceiveHello(p.Hello()); err != nil {
		t.Fatal(err)
	}
	// Low-order point.
	bad := &Batch{Job: "j", Kind: BankBlinded, Offset: 2, Data: make([]byte, 2*PointSize)}
	if _, err := p.Double(bad); !errors.Is(err, ErrBadPoint) {
		t.Fatalf("low-order point: %v", err)
	}
	// Framing: wrong length, misaligned offset, beyond the count.
	for _, f := range []*Batch{
		{Job: "j", Kind: BankBlinded, Offset: 0, Data: make([]byte, PointSize)},
		{Job: "j", Kind: BankBlinded, Offset: 1, Data: make([]byte, 2*PointSize)},
		{Job: "j", Kind: BankBlinded, Offset: 6, Data: make([]byte, PointSize)},
		{Job: "j", Kind: BankBlinded, Offset: 4, Data: make([]byte, 2*PointSize)},
	} {
		if _, err := p.Double(f); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("framing %d/%d: %v", f.Offset, f.Len(), err)
		}
	}
	if _, err := p.Double(m); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Double(m); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("repeated batch: %v", err)
	}
	if _, _, err := b.Finish(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("early finish: %v", err)
	}
	if err := p.ReceiveResult(&Result{Job: "j", Size: 1}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("early result: %v", err)
	}
}

func TestPartnerRefusesBadResults(t *testing.T) {
	mk := func() *Partner {
		b, err := NewBank(Config{Protocol: ProtocolECDH, Job: "j", Rand: seeded(1)}, []string{"a", "b", "c"})
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPartner(Config{Protocol: ProtocolECDH, Job: "j", Rand: seeded(2)}, []string{"a", "b", "c", "d"})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ReceiveHello(b.Hello()); err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := p.NextBlinded(); err != nil {
				break
			}
		}
		return p
	}
	for _, r := range []*Result{
		{Job: "j", Size: 4, Positions: []uint32{0, 1, 2, 3}}, // larger than the bank's set
		{Job: "j", Size: 2, Positions: []uint32{0, 0}},       // repeated
		{Job: "j", Size: 2, Positions: []uint32{0, 9}},       // out of range
		{Job: "j", Size: 2, Offset: 1, Positions: []uint32{0}},
		{Job: "j", Size: 2, Positions: []uint32{0, 1, 2}},
	} {
		if err := mk().ReceiveResult(r); !errors.Is(err, ErrBadBatch) && !errors.Is(err, ErrOutOfOrder) {
			t.Fatalf("%+v: %v", r, err)
		}
	}
	p := mk()
	if err := p.ReceiveResult(&Result{Job: "j", Size: 2, Positions: []uint32{3}}); err != nil {
		t.Fatal(err)
	}
	if p.Done() {
		t.Fatal("done after half the result")
	}
	if err := p.ReceiveResult(&Result{Job: "j", Size: 2, Offset: 1, Positions: []uint32{3}}); !errors.Is(err, ErrBadBatch) {
		t.Fatalf("repeat across chunks: %v", err)
	}
	if err := p.ReceiveResult(&Result{Job: "j", Size: 2, Offset: 1, Positions: []uint32{1}}); err != nil {
		t.Fatal(err)
	}
	got, err := p.Intersection()
	if err != nil || got.Size != 2 || len(got.Rows) != 2 {
		t.Fatalf("%+v %v", got, err)
	}
}

// TestBankReleasesPartnerTags: once the bank's own tags are back, partner
// tags are matched as they arrive and not kept.
func TestBankReleasesPartnerTags(t *testing.T) {
	var ids []string
	for i := range 50 {
		ids = append(ids, fmt.Sprint(i))
	}
	b, _ := NewBank(Config{Protocol: ProtocolECDH, Job: "j", BatchSize: 8, Rand: seeded(1)}, ids)
	p, _ := NewPartner(Config{Protocol: ProtocolECDH, Job: "j", BatchSize: 8, Rand: seeded(2)}, ids[10:])
	b.ReceiveHello(p.Hello())
	p.ReceiveHello(b.Hello())
	// First one partner batch before the bank's tags are back: buffered.
	pm, _ := p.NextBlinded()
	if err := b.ReceivePartner(pm); err != nil {
		t.Fatal(err)
	}
	if len(b.pending) != 1 {
		t.Fatalf("pending %d", len(b.pending))
	}
	for {
		m, err := b.NextBlinded()
		if err != nil {
			break
		}
		d, err := p.Double(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.ReceiveDoubled(d); err != nil {
			t.Fatal(err)
		}
	}
	if b.pending != nil || b.ownTags != nil {
		t.Fatal("buffers kept after the index was built")
	}
	for {
		pm, err := p.NextBlinded()
		if err != nil {
			break
		}
		if err := b.ReceivePartner(pm); err != nil {
			t.Fatal(err)
		}
		if len(b.pending) != 0 {
			t.Fatal("partner tags buffered after the index was built")
		}
	}
	got, _, err := b.Finish()
	if err != nil || got.Size != 40 {
		t.Fatalf("%d %v", got.Size, err)
	}
}

func TestBenchSmall(t *testing.T) {
	r, err := Bench(2000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.IDs != 2000 || r.Intersection != 1000 || r.WallS <= 0 || r.IDsPerS <= 0 {
		t.Fatalf("%+v", r)
	}
}
