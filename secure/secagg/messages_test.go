package secagg

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"
)

// transcript returns every message of a small round with dropouts, encoded.
func transcript(tb testing.TB) [][]byte {
	tb.Helper()
	p := Params{Job: "wire", Round: 2, Participants: ids(5), VectorLens: []int{3, 2}}
	var msgs [][]byte
	in := randomInputs(rand.New(rand.NewPCG(9, 9)), 5, p.VectorLens)
	_, err := RunLocal(LocalConfig{Params: p, Inputs: in, Rand: seeded(9), Drop: Dropouts{PhaseMaskedInput: {4}},
		Trace: func(_, _ uint32, b []byte) { msgs = append(msgs, bytes.Clone(b)) }})
	if err != nil {
		tb.Fatal(err)
	}
	return msgs
}

func TestMessagesRoundTrip(t *testing.T) {
	kinds := map[kind]int{}
	for _, b := range transcript(t) {
		m, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		kinds[m.kind()]++
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%T does not re-encode to the same bytes", m)
		}
		h := m.MessageHeader()
		if h.Job != "wire" || h.Round != 2 {
			t.Fatalf("%T header %+v", m, h)
		}
		// Every proper prefix and every extension is refused.
		for i := range b {
			if _, err := Unmarshal(b[:i]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%T truncated to %d bytes: %v", m, i, err)
			}
		}
		if _, err := Unmarshal(append(bytes.Clone(b), 0)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%T with a trailing byte: %v", m, err)
		}
		// A decoder refuses another kind's bytes.
		var other Message = new(AdvertiseKeys)
		if _, ok := m.(*AdvertiseKeys); ok {
			other = new(Roster)
		}
		if err := other.UnmarshalBinary(b); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%T decoded as %T: %v", m, other, err)
		}
	}
	if len(kinds) != 7 {
		t.Fatalf("transcript has %d kinds of message, want 7", len(kinds))
	}
	for _, bad := range [][]byte{nil, {1}, {2, 1}, {1, 0}, {1, 8}} {
		if _, err := Unmarshal(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Unmarshal(%x): %v", bad, err)
		}
	}
}

// TestDecoderBoundsAllocation: a length field claiming more than the message
// holds is refused before anything is allocated.
func TestDecoderBoundsAllocation(t *testing.T) {
	h := Header{Job: "j", Round: 1, From: 0, To: Coordinator}
	b, _ := (&MaskedInput{Header: h, Vectors: [][]uint64{{1, 2}}}).MarshalBinary()
	// Vector count is right after the header; the first vector's length follows.
	off := headerFixed + len(h.Job)
	huge := bytes.Clone(b)
	huge[off+4], huge[off+5], huge[off+6], huge[off+7] = 0xff, 0xff, 0xff, 0x0f
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var m MaskedInput
	if err := m.UnmarshalBinary(huge); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 4096 {
		t.Fatalf("%d bytes allocated decoding a lying length", d)
	}
	long := &AdvertiseKeys{Header: Header{Job: string(make([]byte, maxJobLen+1))}}
	if _, err := long.MarshalBinary(); !errors.Is(err, ErrMalformed) {
		t.Fatalf("overlong job id encoded: %v", err)
	}
}
