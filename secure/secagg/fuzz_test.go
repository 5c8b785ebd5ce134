package secagg

import (
	"bytes"
	"testing"
)

// Fuzz targets for every decoder: no input may panic, and whatever decodes
// must re-encode to the same bytes (the encoding is canonical). The seed
// corpus is a real transcript.

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

func FuzzAdvertiseKeys(f *testing.F)  { fuzzDecoder(f, func() Message { return new(AdvertiseKeys) }) }
func FuzzRoster(f *testing.F)         { fuzzDecoder(f, func() Message { return new(Roster) }) }
func FuzzShareKeys(f *testing.F)      { fuzzDecoder(f, func() Message { return new(ShareKeys) }) }
func FuzzShareInbox(f *testing.F)     { fuzzDecoder(f, func() Message { return new(ShareInbox) }) }
func FuzzMaskedInput(f *testing.F)    { fuzzDecoder(f, func() Message { return new(MaskedInput) }) }
func FuzzUnmaskRequest(f *testing.F)  { fuzzDecoder(f, func() Message { return new(UnmaskRequest) }) }
func FuzzUnmaskResponse(f *testing.F) { fuzzDecoder(f, func() Message { return new(UnmaskResponse) }) }

// FuzzUnmarshal is the dispatching decoder.
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

// FuzzServerReceive feeds arbitrary bytes, from an arbitrary sender, to a
// coordinator in each phase: it may refuse them but must not panic, and the
// round must still be able to finish or fail cleanly.
func FuzzServerReceive(f *testing.F) {
	for _, b := range transcript(f) {
		f.Add(uint8(0), uint32(1), b)
		f.Add(uint8(2), uint32(3), b)
	}
	f.Fuzz(func(t *testing.T, phase uint8, from uint32, data []byte) {
		m := newManual(t, Params{Job: "wire", Round: 2, Participants: ids(5), VectorLens: []int{3, 2}}, 9)
		steps := []func(){func() {}, func() { m.advertise() }, func() { m.share() }, func() { m.mask() }}
		for _, s := range steps[:int(phase)%len(steps)+1] {
			s()
		}
		_ = m.srv.ReceiveBytes(from%8, data)
		_ = m.srv.Pending()
		_ = m.srv.Dropouts()
		switch m.srv.Phase() {
		case PhaseAdvertiseKeys:
			_, _ = m.srv.Roster()
		case PhaseShareKeys:
			_, _ = m.srv.Inboxes()
		case PhaseMaskedInput:
			_, _ = m.srv.UnmaskRequests()
		case PhaseUnmasking:
			_, _ = m.srv.Sum()
		}
	})
}

// FuzzClientReceive feeds an arbitrary coordinator message to a participant
// at each step.
func FuzzClientReceive(f *testing.F) {
	for _, b := range transcript(f) {
		f.Add(uint8(0), b)
		f.Add(uint8(1), b)
		f.Add(uint8(2), b)
	}
	f.Fuzz(func(t *testing.T, step uint8, data []byte) {
		msg, err := Unmarshal(data)
		if err != nil {
			return
		}
		m := newManual(t, Params{Job: "wire", Round: 2, Participants: ids(5), VectorLens: []int{3, 2}}, 9)
		m.advertise()
		c := m.cs[0]
		switch step % 3 {
		case 0:
			if r, ok := msg.(*Roster); ok {
				_, _ = c.ShareKeys(r)
			}
		case 1:
			m.share()
			if in, ok := msg.(*ShareInbox); ok {
				_, _ = c.MaskInput(in, m.in[0]...)
			}
		case 2:
			m.share()
			m.mask()
			if r, ok := msg.(*UnmaskRequest); ok {
				_, _ = c.Unmask(r)
			}
		}
	})
}
