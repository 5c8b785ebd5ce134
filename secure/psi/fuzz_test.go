package psi

import (
	"bytes"
	"slices"
	"testing"
)

// Fuzz targets for every decoder: no input may panic, and whatever decodes
// must re-encode to the same bytes. The seed corpus is a real transcript.

func transcript(tb testing.TB) [][]byte {
	var tr [][]byte
	for _, p := range []Protocol{ProtocolECDH, ProtocolOPRF} {
		_, _, err := RunLocal(Config{Protocol: p, Job: "fuzz", BatchSize: 3, Rand: seeded(4)},
			[]string{"a", "b", "c", "d"}, []string{"b", "d", "e"},
			func(_ Role, m []byte) { tr = append(tr, slices.Clone(m)) })
		if err != nil {
			tb.Fatal(err)
		}
	}
	return tr
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

func FuzzHello(f *testing.F)  { fuzzDecoder(f, func() Message { return new(Hello) }) }
func FuzzBatch(f *testing.F)  { fuzzDecoder(f, func() Message { return new(Batch) }) }
func FuzzResult(f *testing.F) { fuzzDecoder(f, func() Message { return new(Result) }) }
func FuzzSetup(f *testing.F)  { fuzzDecoder(f, func() Message { return new(Setup) }) }

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

// FuzzParties feeds arbitrary decoded messages to both parties mid-protocol:
// they may refuse them but must not panic.
func FuzzParties(f *testing.F) {
	for _, b := range transcript(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		c := Config{Protocol: ProtocolECDH, Job: "fuzz", BatchSize: 3, Rand: seeded(4)}
		b, _ := NewBank(c, []string{"a", "b", "c", "d"})
		p, _ := NewPartner(c, []string{"b", "d", "e"})
		b.ReceiveHello(p.Hello())
		p.ReceiveHello(b.Hello())
		b.NextBlinded()
		switch m := m.(type) {
		case *Hello:
			b.ReceiveHello(m)
			p.ReceiveHello(m)
		case *Batch:
			p.Double(m)
			b.ReceiveDoubled(m)
			b.ReceivePartner(m)
		case *Result:
			for {
				if _, err := p.NextBlinded(); err != nil {
					break
				}
			}
			p.ReceiveResult(m)
			p.Intersection()
		}
	})
}

// FuzzOPRFParties feeds arbitrary decoded messages to both OPRF parties
// at each stage of the protocol: they may refuse them but must not panic.
func FuzzOPRFParties(f *testing.F) {
	for _, b := range transcript(f) {
		f.Add(b, uint8(0))
	}
	bankIDs, partnerIDs := []string{"a", "b", "c", "d"}, []string{"b", "d", "e"}
	f.Fuzz(func(t *testing.T, data []byte, stage uint8) {
		m, err := Unmarshal(data)
		if err != nil {
			return
		}
		c := Config{Protocol: ProtocolOPRF, Job: "fuzz", BatchSize: 3, Rand: seeded(4), Workers: 1}
		b, _ := NewOPRFBank(c, bankIDs)
		p, _ := NewOPRFPartner(c, partnerIDs)
		feed := func() {
			switch m := m.(type) {
			case *Hello:
				b.ReceiveHello(m)
				p.ReceiveHello(m)
			case *Setup:
				b.ReceiveSetup(m)
				p.ReceiveSetup(m)
			case *Batch:
				p.ReceiveMatrix(m)
				b.ReceiveTags(m)
			case *Result:
				p.ReceiveResult(m)
				p.Intersection()
			}
		}
		// Stages: 0 fresh; 1 after hellos; 2 after step 1; 3 after the
		// base OTs; 4 after the matrix; 5 after the tags.
		steps := []func(){
			func() { p.ReceiveHello(b.Hello()); b.ReceiveHello(p.Hello()) },
			func() {
				s1, _ := b.Setup()
				s2, _ := p.ReceiveSetup(s1)
				s3, _ := b.ReceiveSetup(s2)
				p.ReceiveSetup(s3)
			},
			func() {},
			func() {
				for {
					x, err := b.NextMatrix()
					if err != nil {
						return
					}
					p.ReceiveMatrix(x)
				}
			},
			func() {
				for {
					x, err := p.NextTags()
					if err != nil {
						return
					}
					b.ReceiveTags(x)
				}
			},
		}
		for i := range min(int(stage%6), len(steps)) {
			steps[i]()
		}
		feed()
		b.Finish()
	})
}

// FuzzIDs: any id list is either refused with an *IDError or aligned
// correctly against itself.
func FuzzIDs(f *testing.F) {
	f.Add("a\x00b\x00c")
	f.Add(" a\x00a")
	f.Add("\xff\x00")
	f.Fuzz(func(t *testing.T, joined string) {
		ids := bytes.Split([]byte(joined), []byte{0})
		if len(ids) > 50 {
			return
		}
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = string(id)
		}
		bank, partner, err := RunLocal(Config{Protocol: ProtocolECDH, Job: "f", Rand: seeded(1), Workers: 1}, s, s, nil)
		if err != nil {
			return
		}
		if bank.Size != len(s) || partner.Size != len(s) {
			t.Fatalf("self-intersection %d/%d of %d", bank.Size, partner.Size, len(s))
		}
	})
}
