package psi

import (
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"testing"
)

// TestTranspose64 holds transpose64 and columnsToRows against bit-by-bit
// references on random matrices.
func TestTranspose64(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range 20 {
		var a, orig [64]uint64
		for i := range a {
			a[i] = rng.Uint64()
		}
		orig = a
		transpose64(&a)
		for r := range 64 {
			for c := range 64 {
				if (a[c]>>r)&1 != (orig[r]>>c)&1 {
					t.Fatalf("bit (%d,%d) not transposed", r, c)
				}
			}
		}
	}
	const nb = 192
	cols := make([][]byte, codeBits)
	for i := range cols {
		cols[i] = make([]byte, nb/8)
		for j := range cols[i] {
			cols[i][j] = byte(rng.Uint32())
		}
	}
	rows := make([]byte, nb*codeBytes)
	columnsToRows(cols, rows, 0, nb/64)
	for j := range nb {
		for i := range codeBits {
			want := cols[i][j/8] >> (j % 8) & 1
			got := rows[j*codeBytes+i/8] >> (i % 8) & 1
			if got != want {
				t.Fatalf("bin %d column %d: %d, want %d", j, i, got, want)
			}
		}
	}
}

// TestCuckoo: every id lands in one of its own three bins, no bin holds
// two ids, the recorded hash is the first that reaches the bin, and a table
// too small to hold the ids is reported, not looped on.
func TestCuckoo(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 10, 1000, 50000} {
		ids := make([][PointSize]byte, n)
		for i := range ids {
			ids[i] = HashID("cuckoo", fmt.Sprint(i))
		}
		h, err := newBinHasher(make([]byte, 16), binsFor(uint64(n)))
		if err != nil {
			t.Fatal(err)
		}
		tab, ok := buildCuckoo(h, ids, rng.Uint64)
		if !ok {
			t.Fatalf("n=%d: table did not settle", n)
		}
		seen := make([]bool, n)
		for bin, s := range tab.slot {
			if s == 0 {
				continue
			}
			row := s - 1
			if seen[row] {
				t.Fatalf("n=%d: row %d in two bins", n, row)
			}
			seen[row] = true
			b := h.bins(&ids[row])
			g := tab.hashIdx[bin]
			if g >= cuckooHashes || b[g] != uint32(bin) || firstHash(b, uint32(bin)) != g {
				t.Fatalf("n=%d: row %d in bin %d by hash %d, bins %v", n, row, bin, g, b)
			}
		}
		if slices.Contains(seen, false) {
			t.Fatalf("n=%d: an id was dropped", n)
		}
	}
	ids := make([][PointSize]byte, 20)
	for i := range ids {
		ids[i] = HashID("cuckoo", fmt.Sprint(i))
	}
	h, _ := newBinHasher(make([]byte, 16), 16)
	if _, ok := buildCuckoo(h, ids, rng.Uint64); ok {
		t.Fatal("20 ids settled in 16 bins")
	}
}

// oprfPair runs an OPRF bank and partner up to the end of the base OTs.
func oprfPair(t *testing.T, c Config, bankIDs, partnerIDs []string) (*OPRFBank, *OPRFPartner) {
	t.Helper()
	c.Protocol = ProtocolOPRF
	b, err := NewOPRFBank(c, bankIDs)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewOPRFPartner(c, partnerIDs)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReceiveHello(b.Hello()); err != nil {
		t.Fatal(err)
	}
	if err := b.ReceiveHello(p.Hello()); err != nil {
		t.Fatal(err)
	}
	s1, err := b.Setup()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := p.ReceiveSetup(s1)
	if err != nil {
		t.Fatal(err)
	}
	s3, err := b.ReceiveSetup(s2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReceiveSetup(s3); err != nil {
		t.Fatal(err)
	}
	return b, p
}

// TestBaseOTs: after the base OTs the partner holds, for each of the 512
// columns, the bank's seed selected by its own choice bit and not the
// other one; this is what keeps the bank's ids hidden from the partner and
// the partner's choices from the bank.
func TestBaseOTs(t *testing.T) {
	b, p := oprfPair(t, Config{Job: "ot", Rand: seeded(5)}, []string{"a", "b"}, []string{"b", "c"})
	var ones int
	for i := range codeBits {
		s := p.choiceBit(i)
		ones += s
		got, want, other := make([]byte, 16), make([]byte, 16), make([]byte, 16)
		p.streams[i].fill(got, 0)
		b.streams[s][i].fill(want, 0)
		b.streams[1-s][i].fill(other, 0)
		if !slices.Equal(got, want) || slices.Equal(got, other) {
			t.Fatalf("column %d: partner's stream is not exactly the chosen one", i)
		}
	}
	if ones < 200 || ones > 312 {
		t.Fatalf("%d of 512 choice bits set: not random", ones)
	}
}

// TestOPRFRefusals: each out-of-order, repeated, mis-framed or tampered
// message is refused with its error, and the run can still finish.
func TestOPRFRefusals(t *testing.T) {
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprint("id-", i)
	}
	c := Config{Protocol: ProtocolOPRF, Job: "j", BatchSize: 128, Rand: seeded(6)}

	// Protocol mismatch is refused at the Hello.
	eb, err := NewBank(Config{Protocol: ProtocolECDH, Job: "j", Rand: seeded(1)}, ids)
	if err != nil {
		t.Fatal(err)
	}
	op, err := NewOPRFPartner(c, ids)
	if err != nil {
		t.Fatal(err)
	}
	if err := op.ReceiveHello(eb.Hello()); !errors.Is(err, ErrProtocolMismatch) {
		t.Fatalf("ECDH hello to an OPRF partner: %v", err)
	}
	if _, err := NewBank(c, ids); !errors.Is(err, ErrConfig) {
		t.Fatalf("ECDH bank from an OPRF config: %v", err)
	}

	// Setup out of order, and before the hello.
	b, err := NewOPRFBank(c, ids)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Setup(); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("setup before hello: %v", err)
	}
	p, err := NewOPRFPartner(c, ids[100:])
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ReceiveHello(b.Hello()); err != nil {
		t.Fatal(err)
	}
	if err := b.ReceiveHello(p.Hello()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.NextMatrix(); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("matrix before setup: %v", err)
	}
	s1, _ := b.Setup()
	if _, err := b.Setup(); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("second setup: %v", err)
	}
	wrong := *s1
	wrong.Job = "other"
	if _, err := p.ReceiveSetup(&wrong); !errors.Is(err, ErrWrongJob) {
		t.Fatalf("setup for another job: %v", err)
	}
	s2, err := p.ReceiveSetup(s1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReceiveSetup(s1); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("step 1 twice: %v", err)
	}
	// A partner element that is not a ristretto255 encoding.
	badElem := *s2
	badElem.Data = slices.Clone(s2.Data)
	for i := range 32 {
		badElem.Data[i] = 0xff
	}
	if _, err := b.ReceiveSetup(&badElem); !errors.Is(err, ErrBaseOT) {
		t.Fatalf("bad element: %v", err)
	}
	s3, err := b.ReceiveSetup(s2)
	if err != nil {
		t.Fatal(err)
	}
	// A tampered OT ciphertext fails authentication at the partner.
	tampered := *s3
	tampered.Data = slices.Clone(s3.Data)
	for i := range codeBits {
		tampered.Data[(2*i)*otCipherSize+20] ^= 1
		tampered.Data[(2*i+1)*otCipherSize+20] ^= 1
	}
	q := *p
	if _, err := q.ReceiveSetup(&tampered); !errors.Is(err, ErrBaseOT) {
		t.Fatalf("tampered base OT: %v", err)
	}
	if _, err := p.ReceiveSetup(s3); err != nil {
		t.Fatal(err)
	}
	if _, err := p.NextTags(); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("tags before the matrix: %v", err)
	}

	// Matrix: framing, duplicates.
	var matrix []*Batch
	for {
		m, err := b.NextMatrix()
		if err != nil {
			break
		}
		matrix = append(matrix, m)
	}
	if len(matrix) < 3 {
		t.Fatalf("%d matrix batches; the test wants several", len(matrix))
	}
	if err := b.ReceiveTags(&Batch{Job: "j", Kind: OPRFTags, Offset: 0, Data: make([]byte, 128*TagSize)}); err != nil {
		t.Fatalf("a tag batch of random tags: %v", err)
	}
	for _, f := range []*Batch{
		{Job: "j", Kind: OPRFMatrix, Offset: 64, Data: make([]byte, 128*codeBytes)},
		{Job: "j", Kind: OPRFMatrix, Offset: 0, Data: make([]byte, 64*codeBytes)},
		{Job: "j", Kind: OPRFMatrix, Offset: 1 << 20, Data: make([]byte, 128*codeBytes)},
	} {
		if err := p.ReceiveMatrix(f); !errors.Is(err, ErrBadBatch) {
			t.Fatalf("matrix framing %d/%d: %v", f.Offset, f.Len(), err)
		}
	}
	if err := p.ReceiveMatrix(matrix[0]); err != nil {
		t.Fatal(err)
	}
	if err := p.ReceiveMatrix(matrix[0]); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("matrix batch twice: %v", err)
	}
	if err := p.ReceiveMatrix(&Batch{Job: "j", Kind: OPRFTags, Data: make([]byte, TagSize)}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("tags as matrix: %v", err)
	}
	for _, m := range matrix[1:] {
		if err := p.ReceiveMatrix(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ReceiveResult(&Result{Job: "j", Size: 1}); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("result before the tags were sent: %v", err)
	}
	var tags []*Batch
	for {
		m, err := p.NextTags()
		if err != nil {
			break
		}
		tags = append(tags, m)
	}
	if _, _, err := b.Finish(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("finish before the tags: %v", err)
	}
	// The first batch (offset 0) was already taken, as random tags.
	if err := b.ReceiveTags(tags[0]); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("tag batch at 0 twice: %v", err)
	}
	for _, m := range tags[1:] {
		if err := b.ReceiveTags(m); err != nil {
			t.Fatal(err)
		}
	}
	got, _, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	// Batch 0's real tags were replaced by zeros, so its matches are lost;
	// the rest are found.
	if got.Size == 0 || got.Size > 200 {
		t.Fatalf("%d matches", got.Size)
	}
}

// TestOPRFRepeatedMatch: a partner that sends a matching tag a second
// time, at another position of the same hash group, is refused, and the
// refused batch leaves no trace: no match, and its offset still open.
func TestOPRFRepeatedMatch(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	const n = 8 // tags per hash group; batches of 4 split each group in two
	for seed := range uint64(20) {
		b, p := oprfPair(t, Config{Job: "j", BatchSize: 4, Rand: seeded(100 + seed)}, ids, ids)
		for {
			m, err := b.NextMatrix()
			if err != nil {
				break
			}
			if err := p.ReceiveMatrix(m); err != nil {
				t.Fatal(err)
			}
		}
		var tags []*Batch
		for {
			m, err := p.NextTags()
			if err != nil {
				break
			}
			tags = append(tags, m)
		}
		for k, m := range tags {
			if m.Offset%n != 0 {
				continue
			}
			var hit []byte
			for i := range m.Len() {
				tag := [TagSize]byte(m.Data[i*TagSize : (i+1)*TagSize])
				if bin, ok := b.index[tag]; ok && uint64(b.table.hashIdx[bin]) == m.Offset/n {
					hit = tag[:]
				}
			}
			if hit == nil {
				continue
			}
			if err := b.ReceiveTags(m); err != nil {
				t.Fatal(err)
			}
			before := len(b.matches)
			next := tags[k+1]
			replay := &Batch{Job: "j", Kind: OPRFTags, Offset: next.Offset, Data: make([]byte, len(next.Data))}
			copy(replay.Data, hit)
			if err := b.ReceiveTags(replay); !errors.Is(err, ErrBadBatch) {
				t.Fatalf("replayed match: %v", err)
			}
			if len(b.matches) != before {
				t.Fatal("a refused batch left matches")
			}
			if err := b.ReceiveTags(next); err != nil {
				t.Fatalf("the real batch after a refused one: %v", err)
			}
			return
		}
	}
	t.Fatal("no seed put a match in the first half of a hash group")
}

// TestResultHidesPlacement: the Result names each common id by its place
// in the partner's shuffle only, never by the hash group the bank matched
// it in, which would show the partner where the bank placed the id and so
// which of the bank's bins are occupied.
func TestResultHidesPlacement(t *testing.T) {
	var bankIDs, partnerIDs []string
	for i := range 3000 {
		bankIDs = append(bankIDs, fmt.Sprint("c", i))
	}
	for i := 1000; i < 2500; i++ {
		partnerIDs = append(partnerIDs, fmt.Sprint("c", i))
	}
	var positions []uint32
	_, partner, err := RunLocal(Config{Job: "placement", BatchSize: 256, Rand: seeded(12)}, bankIDs, partnerIDs,
		func(from Role, msg []byte) {
			m, err := Unmarshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := m.(*Result); ok {
				positions = append(positions, r.Positions...)
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	if len(positions) != 1500 || partner.Size != 1500 {
		t.Fatalf("%d positions, size %d; want 1500", len(positions), partner.Size)
	}
	for _, pos := range positions {
		if int(pos) >= len(partnerIDs) {
			t.Fatalf("position %d carries a hash group (partner has %d ids)", pos, len(partnerIDs))
		}
	}
}

// TestHelloBatchBound: a Hello announcing more batches than MaxBatches in
// any stream is refused before anything is allocated for it, for both
// protocols and both roles.
func TestHelloBatchBound(t *testing.T) {
	for _, proto := range protocols {
		c := Config{Protocol: proto, Job: "j", Rand: seeded(1)}
		var bank, partner interface{ ReceiveHello(*Hello) error }
		if proto == ProtocolOPRF {
			b, _ := NewOPRFBank(c, []string{"a"})
			p, _ := NewOPRFPartner(c, []string{"a"})
			bank, partner = b, p
		} else {
			b, _ := NewBank(c, []string{"a"})
			p, _ := NewPartner(c, []string{"a"})
			bank, partner = b, p
		}
		huge := &Hello{Job: "j", Count: 1 << 30, BatchSize: 1, Protocol: proto}
		ok := &Hello{Job: "j", Count: 1 << 30, BatchSize: 1 << 16, Protocol: proto}
		for _, tc := range []struct {
			to   interface{ ReceiveHello(*Hello) error }
			from Role
		}{{bank, RolePartner}, {partner, RoleBank}} {
			h := *huge
			h.From = tc.from
			if err := tc.to.ReceiveHello(&h); !errors.Is(err, ErrBadBatch) {
				t.Fatalf("%v: %v hello with %d batches: %v", proto, tc.from, streamBatches(&h), err)
			}
			h = *ok
			h.From = tc.from
			if err := tc.to.ReceiveHello(&h); err != nil {
				t.Fatalf("%v: %v hello within the bound: %v", proto, tc.from, err)
			}
		}
	}
}
