package secagg

import (
	"encoding"
	"encoding/binary"
	"fmt"
)

// Wire format. Every message is
//
//	version u8 (=1) ‖ kind u8 ‖ len(job) u16 ‖ job ‖ round u64 ‖ from u32 ‖ to u32 ‖ payload
//
// with little-endian integers and lists prefixed by a u32 count. The kind
// fixes the phase. Decoders check every length before allocating, reject
// trailing bytes and never panic; an encoding that decodes re-encodes to the
// same bytes. Decoders check structure only: whether a message fits the
// round is checked by the Client or Server that receives it.

const wireVersion = 1

// Addresses that are not participant indices.
const (
	Coordinator uint32 = 0xFFFFFFFF // From/To of the coordinator
	Broadcast   uint32 = 0xFFFFFFFE // To of a message for every participant
)

const (
	maxVectorLen = 1 << 28
	headerFixed  = 1 + 1 + 2 + 8 + 4 + 4
)

type kind uint8

const (
	kindAdvertiseKeys kind = iota + 1
	kindRoster
	kindShareKeys
	kindShareInbox
	kindMaskedInput
	kindUnmaskRequest
	kindUnmaskResponse
)

// Header binds a message to its job, round, sender and recipient.
type Header struct {
	Job   string
	Round uint64
	From  uint32 // participant index or Coordinator
	To    uint32 // participant index, Coordinator or Broadcast
}

// Message is any protocol message.
type Message interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	// MessageHeader returns the job, round, sender and recipient.
	MessageHeader() Header
	// Phase is the protocol phase the message belongs to.
	Phase() Phase
	kind() kind
}

// AdvertiseKeys (participant → coordinator, phase 0) carries the public
// share-encryption key c_u^PK and the public mask key s_u^PK.
type AdvertiseKeys struct {
	Header
	EncKey, MaskKey [KeySize]byte
}

// AdvertisedKeys is one entry of a Roster.
type AdvertisedKeys struct {
	ID              uint32
	EncKey, MaskKey [KeySize]byte
}

// Roster (coordinator → everyone, end of phase 0) lists U1 with its keys, in
// increasing id order.
type Roster struct {
	Header
	Keys []AdvertisedKeys
}

// EncryptedShare is an AEAD ciphertext of (from, to, share of k_s, share of
// k_b). In ShareKeys, Peer is the recipient; in ShareInbox, the sender.
type EncryptedShare struct {
	Peer       uint32
	Ciphertext [ShareCiphertextSize]byte
}

// ShareKeys (participant → coordinator, phase 1) carries one ciphertext per
// neighbour in U1, in increasing recipient order, and a hash commitment to
// k_b that lets the coordinator check the k_b it later reconstructs.
type ShareKeys struct {
	Header
	SelfMaskCommit [32]byte
	Shares         []EncryptedShare
}

// ShareInbox (coordinator → one participant, end of phase 1) carries the
// ciphertexts addressed to that participant, in increasing sender order.
// Its senders are the recipient's neighbours in U2.
type ShareInbox struct {
	Header
	Shares []EncryptedShare
}

// MaskedInput (participant → coordinator, phase 2) carries y_u, one masked
// vector per vector-id.
type MaskedInput struct {
	Header
	Vectors [][]uint64
}

// UnmaskRequest (coordinator → one participant, phase 4) lists the members
// of U3 among the recipient's holders set N(v) ∪ {v}, in increasing order.
// The others that the recipient saw in U2 are the dropped ones.
type UnmaskRequest struct {
	Header
	Survivors []uint32
}

// ShareKind tells which secret a revealed share belongs to.
type ShareKind uint8

const (
	MaskKeyShare  ShareKind = 1 // share of k_s, for a participant in U2 \ U3
	SelfMaskShare ShareKind = 2 // share of k_b, for a participant in U3
)

// RevealedShare is one share a holder releases.
type RevealedShare struct {
	Owner uint32
	Kind  ShareKind
	Value [ScalarSize]byte
}

// UnmaskResponse (participant → coordinator, phase 4) carries, for each
// participant the holder saw in U2, the share of k_b if it survived and of
// k_s if it dropped, in increasing owner order.
type UnmaskResponse struct {
	Header
	Shares []RevealedShare
}

var (
	_ Message = (*AdvertiseKeys)(nil)
	_ Message = (*Roster)(nil)
	_ Message = (*ShareKeys)(nil)
	_ Message = (*ShareInbox)(nil)
	_ Message = (*MaskedInput)(nil)
	_ Message = (*UnmaskRequest)(nil)
	_ Message = (*UnmaskResponse)(nil)
)

func (h Header) MessageHeader() Header { return h }

func (*AdvertiseKeys) Phase() Phase  { return PhaseAdvertiseKeys }
func (*Roster) Phase() Phase         { return PhaseAdvertiseKeys }
func (*ShareKeys) Phase() Phase      { return PhaseShareKeys }
func (*ShareInbox) Phase() Phase     { return PhaseShareKeys }
func (*MaskedInput) Phase() Phase    { return PhaseMaskedInput }
func (*UnmaskRequest) Phase() Phase  { return PhaseUnmasking }
func (*UnmaskResponse) Phase() Phase { return PhaseUnmasking }

func (*AdvertiseKeys) kind() kind  { return kindAdvertiseKeys }
func (*Roster) kind() kind         { return kindRoster }
func (*ShareKeys) kind() kind      { return kindShareKeys }
func (*ShareInbox) kind() kind     { return kindShareInbox }
func (*MaskedInput) kind() kind    { return kindMaskedInput }
func (*UnmaskRequest) kind() kind  { return kindUnmaskRequest }
func (*UnmaskResponse) kind() kind { return kindUnmaskResponse }

// Unmarshal decodes any message, dispatching on its kind byte.
func Unmarshal(data []byte) (Message, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	var m Message
	switch kind(data[1]) {
	case kindAdvertiseKeys:
		m = new(AdvertiseKeys)
	case kindRoster:
		m = new(Roster)
	case kindShareKeys:
		m = new(ShareKeys)
	case kindShareInbox:
		m = new(ShareInbox)
	case kindMaskedInput:
		m = new(MaskedInput)
	case kindUnmaskRequest:
		m = new(UnmaskRequest)
	case kindUnmaskResponse:
		m = new(UnmaskResponse)
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, data[1])
	}
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return m, nil
}

// ---- encoding ----

func (h *Header) appendTo(b []byte, k kind) ([]byte, error) {
	if len(h.Job) > maxJobLen {
		return nil, fmt.Errorf("%w: job id of %d bytes", ErrMalformed, len(h.Job))
	}
	b = append(b, wireVersion, byte(k))
	b = appendString(b, h.Job)
	b = binary.LittleEndian.AppendUint64(b, h.Round)
	b = binary.LittleEndian.AppendUint32(b, h.From)
	b = binary.LittleEndian.AppendUint32(b, h.To)
	return b, nil
}

func newBuf(h *Header, size int) []byte { return make([]byte, 0, headerFixed+len(h.Job)+size) }

func appendCount(b []byte, n int) []byte { return binary.LittleEndian.AppendUint32(b, uint32(n)) }

// MarshalBinary encodes the message.
func (m *AdvertiseKeys) MarshalBinary() ([]byte, error) {
	b, err := m.Header.appendTo(newBuf(&m.Header, 2*KeySize), m.kind())
	if err != nil {
		return nil, err
	}
	b = append(b, m.EncKey[:]...)
	return append(b, m.MaskKey[:]...), nil
}

// MarshalBinary encodes the message.
func (m *Roster) MarshalBinary() ([]byte, error) {
	b, err := m.Header.appendTo(newBuf(&m.Header, 4+len(m.Keys)*(4+2*KeySize)), m.kind())
	if err != nil {
		return nil, err
	}
	b = appendCount(b, len(m.Keys))
	for i := range m.Keys {
		k := &m.Keys[i]
		b = binary.LittleEndian.AppendUint32(b, k.ID)
		b = append(b, k.EncKey[:]...)
		b = append(b, k.MaskKey[:]...)
	}
	return b, nil
}

func appendShares(b []byte, s []EncryptedShare) []byte {
	b = appendCount(b, len(s))
	for i := range s {
		b = binary.LittleEndian.AppendUint32(b, s[i].Peer)
		b = append(b, s[i].Ciphertext[:]...)
	}
	return b
}

// MarshalBinary encodes the message.
func (m *ShareKeys) MarshalBinary() ([]byte, error) {
	b, err := m.Header.appendTo(newBuf(&m.Header, 32+4+len(m.Shares)*(4+ShareCiphertextSize)), m.kind())
	if err != nil {
		return nil, err
	}
	b = append(b, m.SelfMaskCommit[:]...)
	return appendShares(b, m.Shares), nil
}

// MarshalBinary encodes the message.
func (m *ShareInbox) MarshalBinary() ([]byte, error) {
	b, err := m.Header.appendTo(newBuf(&m.Header, 4+len(m.Shares)*(4+ShareCiphertextSize)), m.kind())
	if err != nil {
		return nil, err
	}
	return appendShares(b, m.Shares), nil
}

// MarshalBinary encodes the message.
func (m *MaskedInput) MarshalBinary() ([]byte, error) {
	size := 4
	for _, v := range m.Vectors {
		size += 4 + 8*len(v)
	}
	b, err := m.Header.appendTo(newBuf(&m.Header, size), m.kind())
	if err != nil {
		return nil, err
	}
	b = appendCount(b, len(m.Vectors))
	for _, v := range m.Vectors {
		if len(v) > maxVectorLen {
			return nil, fmt.Errorf("%w: vector of %d words", ErrMalformed, len(v))
		}
		b = appendCount(b, len(v))
		for _, w := range v {
			b = binary.LittleEndian.AppendUint64(b, w)
		}
	}
	return b, nil
}

// MarshalBinary encodes the message.
func (m *UnmaskRequest) MarshalBinary() ([]byte, error) {
	b, err := m.Header.appendTo(newBuf(&m.Header, 4+4*len(m.Survivors)), m.kind())
	if err != nil {
		return nil, err
	}
	b = appendCount(b, len(m.Survivors))
	for _, u := range m.Survivors {
		b = binary.LittleEndian.AppendUint32(b, u)
	}
	return b, nil
}

// MarshalBinary encodes the message.
func (m *UnmaskResponse) MarshalBinary() ([]byte, error) {
	b, err := m.Header.appendTo(newBuf(&m.Header, 4+len(m.Shares)*(5+ScalarSize)), m.kind())
	if err != nil {
		return nil, err
	}
	b = appendCount(b, len(m.Shares))
	for i := range m.Shares {
		s := &m.Shares[i]
		b = binary.LittleEndian.AppendUint32(b, s.Owner)
		b = append(b, byte(s.Kind))
		b = append(b, s.Value[:]...)
	}
	return b, nil
}

// ---- decoding ----

// reader consumes a message; the first failure sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) copyTo(dst []byte) {
	if b := r.take(len(dst)); b != nil {
		copy(dst, b)
	}
}

// count reads a list length and checks that count entries of at least
// entrySize bytes each can still follow.
func (r *reader) count(entrySize int) int {
	c := r.u32()
	if r.err != nil {
		return 0
	}
	if uint64(c)*uint64(entrySize) > uint64(len(r.b)) {
		r.fail("list of %d entries of %d bytes in %d bytes", c, entrySize, len(r.b))
		return 0
	}
	return int(c)
}

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

func (r *reader) header(h *Header, k kind) {
	if v := r.u8(); r.err == nil && v != wireVersion {
		r.fail("version %d", v)
	}
	if v := r.u8(); r.err == nil && kind(v) != k {
		r.fail("kind %d, want %d", v, k)
	}
	n := int(r.u16())
	if r.err == nil && n > maxJobLen {
		r.fail("job id of %d bytes", n)
	}
	job := r.take(n)
	h.Round = r.u64()
	h.From = r.u32()
	h.To = r.u32()
	if r.err == nil {
		h.Job = string(job)
	}
}

// UnmarshalBinary decodes the message.
func (m *AdvertiseKeys) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out AdvertiseKeys
	r.header(&out.Header, m.kind())
	r.copyTo(out.EncKey[:])
	r.copyTo(out.MaskKey[:])
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Roster) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out Roster
	r.header(&out.Header, m.kind())
	c := r.count(4 + 2*KeySize)
	if c > 0 {
		out.Keys = make([]AdvertisedKeys, c)
		for i := range out.Keys {
			k := &out.Keys[i]
			k.ID = r.u32()
			r.copyTo(k.EncKey[:])
			r.copyTo(k.MaskKey[:])
		}
	}
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}

func (r *reader) shares() []EncryptedShare {
	c := r.count(4 + ShareCiphertextSize)
	if c == 0 {
		return nil
	}
	s := make([]EncryptedShare, c)
	for i := range s {
		s[i].Peer = r.u32()
		r.copyTo(s[i].Ciphertext[:])
	}
	return s
}

// UnmarshalBinary decodes the message.
func (m *ShareKeys) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out ShareKeys
	r.header(&out.Header, m.kind())
	r.copyTo(out.SelfMaskCommit[:])
	out.Shares = r.shares()
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalBinary decodes the message.
func (m *ShareInbox) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out ShareInbox
	r.header(&out.Header, m.kind())
	out.Shares = r.shares()
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalBinary decodes the message.
func (m *MaskedInput) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out MaskedInput
	r.header(&out.Header, m.kind())
	c := r.count(4)
	if c > 0 {
		out.Vectors = make([][]uint64, c)
		for i := range out.Vectors {
			n := r.count(8)
			if r.err != nil {
				break
			}
			if n > maxVectorLen {
				r.fail("vector of %d words", n)
				break
			}
			raw := r.take(8 * n)
			v := make([]uint64, n)
			for j := range v {
				v[j] = binary.LittleEndian.Uint64(raw[8*j:])
			}
			out.Vectors[i] = v
		}
	}
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalBinary decodes the message.
func (m *UnmaskRequest) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out UnmaskRequest
	r.header(&out.Header, m.kind())
	c := r.count(4)
	if c > 0 {
		out.Survivors = make([]uint32, c)
		for i := range out.Survivors {
			out.Survivors[i] = r.u32()
		}
	}
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}

// UnmarshalBinary decodes the message.
func (m *UnmaskResponse) UnmarshalBinary(data []byte) error {
	r := reader{b: data}
	var out UnmaskResponse
	r.header(&out.Header, m.kind())
	c := r.count(5 + ScalarSize)
	if c > 0 {
		out.Shares = make([]RevealedShare, c)
		for i := range out.Shares {
			s := &out.Shares[i]
			s.Owner = r.u32()
			s.Kind = ShareKind(r.u8())
			r.copyTo(s.Value[:])
		}
	}
	if err := r.done(); err != nil {
		return err
	}
	*m = out
	return nil
}
