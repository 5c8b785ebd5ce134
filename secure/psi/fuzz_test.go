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
	_, _, err := RunLocal(Config{Job: "fuzz", BatchSize: 3, Rand: seeded(4)},
		[]string{"a", "b", "c", "d"}, []string{"b", "d", "e"},
		func(_ Role, m []byte) { tr = append(tr, slices.Clone(m)) })
	if err != nil {
		tb.Fatal(err)
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
		c := Config{Job: "fuzz", BatchSize: 3, Rand: seeded(4)}
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
		bank, partner, err := RunLocal(Config{Job: "f", Rand: seeded(1), Workers: 1}, s, s, nil)
		if err != nil {
			return
		}
		if bank.Size != len(s) || partner.Size != len(s) {
			t.Fatalf("self-intersection %d/%d of %d", bank.Size, partner.Size, len(s))
		}
	})
}
