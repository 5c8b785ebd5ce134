package vertical

import (
	"bytes"
	"slices"
	"testing"
)

// Fuzz targets for every decoder: no input may panic, and whatever decodes
// must re-encode to the same bytes. The seed corpus is a real transcript
// (training and bins) and a checkpoint.

func transcript(tb testing.TB) [][]byte {
	var tr [][]byte
	keep := func(_, _ Role, m []byte) {
		if len(m) < 4096 {
			tr = append(tr, slices.Clone(m))
		}
	}
	data := NewSynthetic(6000, 1, 2, 1)
	p := Params{Job: "fuzz", Rows: 6000, BankFeatures: 1, PartnerFeatures: 2, Epochs: 1}
	if _, err := RunLocal(LocalConfig{Params: p, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner, Rand: seeded(1), Trace: keep}); err != nil {
		tb.Fatal(err)
	}
	labels := make([]float64, 100)
	assign := [][]int{make([]int, 100)}
	for i := range assign[0] {
		assign[0][i] = i % 2
		labels[i] = float64(i % 3 % 2)
	}
	if _, _, err := BinCountsLocal(BinParams{Job: "fuzz", Rows: 100, Bins: 2}, labels, []int{2}, assign, seeded(2), keep); err != nil {
		tb.Fatal(err)
	}
	cp, _ := (&Checkpoint{Job: "fuzz", Role: RoleBank, Iteration: 3, Weights: []float64{1, -2}, Velocity: []float64{0, 0.5}}).MarshalBinary()
	ps, _ := (&PartialScores{Job: "fuzz", Scores: []float64{0.25, -1}}).MarshalBinary()
	tr = append(tr, cp, ps)
	// A small matrix chunk, cut from the setup.
	mc, _ := (&MatrixChunk{Job: "fuzz", From: RolePartner, Product: PartnerGradient, Offset: 2, Cols: 2, Data: []uint64{1, 2, 3, 4}}).MarshalBinary()
	sh, _ := (&Share{Job: "fuzz", From: RoleBank, Product: PartnerGradient, Iteration: 1, F: []uint64{5, 6, 7}, H: []uint64{8, 9}}).MarshalBinary()
	return append(tr, mc, sh)
}

func fuzzDecoder(f *testing.F, newMsg func() Message) {
	for _, b := range transcript(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m := newMsg()
		if err := m.UnmarshalBinary(data); err != nil {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%T: decoded but re-encodes differently (%v)", m, err)
		}
	})
}

func FuzzHello(f *testing.F)         { fuzzDecoder(f, func() Message { return new(Hello) }) }
func FuzzMatrixChunk(f *testing.F)   { fuzzDecoder(f, func() Message { return new(MatrixChunk) }) }
func FuzzDeal(f *testing.F)          { fuzzDecoder(f, func() Message { return new(Deal) }) }
func FuzzShare(f *testing.F)         { fuzzDecoder(f, func() Message { return new(Share) }) }
func FuzzPartialScores(f *testing.F) { fuzzDecoder(f, func() Message { return new(PartialScores) }) }
func FuzzCheckpoint(f *testing.F)    { fuzzDecoder(f, func() Message { return new(Checkpoint) }) }

func FuzzUnmarshal(f *testing.F) {
	for _, b := range transcript(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%T: decoded but re-encodes differently (%v)", m, err)
		}
	})
}

// FuzzParties feeds arbitrary decoded messages to every role of a started
// job: they may refuse them but must not panic.
func FuzzParties(f *testing.F) {
	for _, b := range transcript(f) {
		f.Add(b)
	}
	data := NewSynthetic(6000, 1, 2, 1)
	p := Params{Job: "fuzz", Rows: 6000, BankFeatures: 1, PartnerFeatures: 2, Epochs: 2}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := Unmarshal(raw)
		if err != nil {
			return
		}
		l, err := newLocal(&LocalConfig{Params: p, Bank: data.Bank, Labels: data.Labels, Partner: data.Partner, Rand: seeded(1)})
		if err != nil {
			t.Fatal(err)
		}
		if err := l.setup(); err != nil {
			t.Fatal(err)
		}
		switch m := m.(type) {
		case *Hello:
			l.b.ReceiveHello(m)
			l.p.ReceiveHello(m)
			l.h.ReceiveHello(m)
		case *MatrixChunk:
			l.b.ReceiveMatrix(m)
			l.p.ReceiveMatrix(m)
		case *Deal:
			l.b.ReceiveDeal(m)
			l.p.ReceiveDeal(m)
		case *Share:
			db, dp, _ := l.h.NextDeal()
			l.b.ReceiveDeal(db)
			l.p.ReceiveDeal(dp)
			l.p.Step(m)
			l.b.Send()
			l.b.Receive(m)
		}
		// The honest run still goes through.
		for !l.b.Done() {
			if err := l.iteration(); err != nil {
				return // a fuzzed deal or share may have been accepted in place of the real one
			}
		}
	})
}
