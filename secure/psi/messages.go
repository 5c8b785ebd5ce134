package psi

import (
	"encoding"
	"encoding/binary"
	"fmt"
)

// Wire format. Every message is
//
//	version u8 (=1) ‖ kind u8 ‖ len(job) u16 ‖ job ‖ payload
//
// with little-endian integers. Decoders check every length before
// allocating, reject trailing bytes and never panic; whatever decodes
// re-encodes to the same bytes. They check structure only: whether a
// message fits the protocol is checked by the Bank or Partner receiving it.

const wireVersion = 1

type kind uint8

const (
	kindHello kind = iota + 1
	kindBatch
	kindResult
)

// Role names a party.
type Role uint8

// The two roles.
const (
	RoleBank    Role = 1
	RolePartner Role = 2
)

func (r Role) String() string {
	switch r {
	case RoleBank:
		return "bank"
	case RolePartner:
		return "partner"
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// BatchKind says what a Batch carries.
type BatchKind uint8

// The three kinds of batch.
const (
	// BankBlinded (bank → partner): H(x)^a, 32 bytes per id.
	BankBlinded BatchKind = 1
	// BankDoubled (partner → bank): the first 16 bytes of H(x)^ab, in the
	// order of the BankBlinded batch at the same offset.
	BankDoubled BatchKind = 2
	// PartnerBlinded (partner → bank): H(y)^b, 32 bytes per id.
	PartnerBlinded BatchKind = 3
)

func (k BatchKind) elemSize() int {
	switch k {
	case BankBlinded, PartnerBlinded:
		return PointSize
	case BankDoubled:
		return TagSize
	}
	return 0
}

func (k BatchKind) String() string {
	switch k {
	case BankBlinded:
		return "bank-blinded"
	case BankDoubled:
		return "bank-doubled"
	case PartnerBlinded:
		return "partner-blinded"
	}
	return fmt.Sprintf("batch-kind(%d)", uint8(k))
}

// Message is any protocol message.
type Message interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	JobID() string
	kind() kind
}

// Hello opens the protocol; each side sends one.
type Hello struct {
	Job       string
	From      Role
	Count     uint64 // number of ids of the sender
	BankOnly  bool   // the sender's setting of Config.BankOnly
	BatchSize uint32 // ids per batch of the sender
}

// Batch carries the points of Count ids starting at Offset in the
// sender's (shuffled) order.
type Batch struct {
	Job    string
	Kind   BatchKind
	Offset uint64
	// Data holds Len() points of Kind's size, back to back.
	Data []byte
}

// Len is the number of points in the batch.
func (b *Batch) Len() int {
	if s := b.Kind.elemSize(); s > 0 {
		return len(b.Data) / s
	}
	return 0
}

// Result (bank → partner) ends the protocol. Size is the intersection size.
// Unless BankOnly, the partner's matching positions (indices into its
// PartnerBlinded order) follow in the agreed order, in chunks: this chunk
// holds the entries from Offset on. With BankOnly there is one Result with
// no positions.
type Result struct {
	Job       string
	Size      uint64
	Offset    uint64
	Positions []uint32
}

var (
	_ Message = (*Hello)(nil)
	_ Message = (*Batch)(nil)
	_ Message = (*Result)(nil)
)

func (m *Hello) JobID() string  { return m.Job }
func (m *Batch) JobID() string  { return m.Job }
func (m *Result) JobID() string { return m.Job }

func (*Hello) kind() kind  { return kindHello }
func (*Batch) kind() kind  { return kindBatch }
func (*Result) kind() kind { return kindResult }

func header(k kind, job string, size int) []byte {
	b := make([]byte, 0, 4+len(job)+size)
	b = append(b, wireVersion, byte(k))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(job)))
	return append(b, job...)
}

// MarshalBinary encodes the message.
func (m *Hello) MarshalBinary() ([]byte, error) {
	if len(m.Job) > MaxJobLen {
		return nil, fmt.Errorf("%w: job id too long", ErrMalformed)
	}
	b := header(kindHello, m.Job, 14)
	b = append(b, byte(m.From))
	b = binary.LittleEndian.AppendUint64(b, m.Count)
	b = append(b, boolByte(m.BankOnly))
	return binary.LittleEndian.AppendUint32(b, m.BatchSize), nil
}

// MarshalBinary encodes the message.
func (m *Batch) MarshalBinary() ([]byte, error) {
	s := m.Kind.elemSize()
	if len(m.Job) > MaxJobLen || s == 0 || len(m.Data)%s != 0 || len(m.Data)/s > MaxBatchSize {
		return nil, fmt.Errorf("%w: batch framing", ErrMalformed)
	}
	b := header(kindBatch, m.Job, 13+len(m.Data))
	b = append(b, byte(m.Kind))
	b = binary.LittleEndian.AppendUint64(b, m.Offset)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Data)/s))
	return append(b, m.Data...), nil
}

// MarshalBinary encodes the message.
func (m *Result) MarshalBinary() ([]byte, error) {
	if len(m.Job) > MaxJobLen || len(m.Positions) > MaxBatchSize {
		return nil, fmt.Errorf("%w: result framing", ErrMalformed)
	}
	b := header(kindResult, m.Job, 20+4*len(m.Positions))
	b = binary.LittleEndian.AppendUint64(b, m.Size)
	b = binary.LittleEndian.AppendUint64(b, m.Offset)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Positions)))
	for _, p := range m.Positions {
		b = binary.LittleEndian.AppendUint32(b, p)
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// reader decodes without panicking: every read checks the remaining length.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
}

func (r *reader) take(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("short " + what)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(what string) uint8 {
	if v := r.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(what string) uint16 {
	if v := r.take(2, what); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(what string) uint32 {
	if v := r.take(4, what); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(what string) uint64 {
	if v := r.take(8, what); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (r *reader) boolean(what string) bool {
	switch r.u8(what) {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail(what + " not 0 or 1")
	return false
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Sprintf("%d trailing bytes", len(r.b)))
	}
	return r.err
}

func readHeader(data []byte, want kind) (*reader, string) {
	r := &reader{b: data}
	if v := r.u8("version"); r.err == nil && v != wireVersion {
		r.fail(fmt.Sprintf("version %d", v))
	}
	if k := kind(r.u8("kind")); r.err == nil && k != want {
		r.fail(fmt.Sprintf("kind %d, want %d", k, want))
	}
	n := int(r.u16("job length"))
	if r.err == nil && n > MaxJobLen {
		r.fail("job id too long")
	}
	job := string(r.take(n, "job"))
	return r, job
}

// UnmarshalBinary decodes the message.
func (m *Hello) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindHello)
	from := Role(r.u8("role"))
	if r.err == nil && from != RoleBank && from != RolePartner {
		r.fail("unknown role")
	}
	count := r.u64("count")
	bankOnly := r.boolean("bank-only flag")
	bs := r.u32("batch size")
	if err := r.end(); err != nil {
		return err
	}
	*m = Hello{Job: job, From: from, Count: count, BankOnly: bankOnly, BatchSize: bs}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Batch) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindBatch)
	k := BatchKind(r.u8("batch kind"))
	s := k.elemSize()
	if r.err == nil && s == 0 {
		r.fail("unknown batch kind")
	}
	off := r.u64("offset")
	n := r.u32("count")
	if r.err == nil && n > MaxBatchSize {
		r.fail("batch too long")
	}
	d := r.take(int(n)*s, "points")
	if err := r.end(); err != nil {
		return err
	}
	*m = Batch{Job: job, Kind: k, Offset: off, Data: append([]byte(nil), d...)}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Result) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindResult)
	size := r.u64("size")
	off := r.u64("offset")
	n := r.u32("count")
	if r.err == nil && n > MaxBatchSize {
		r.fail("result chunk too long")
	}
	raw := r.take(4*int(n), "positions")
	if err := r.end(); err != nil {
		return err
	}
	pos := make([]uint32, n)
	for i := range pos {
		pos[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	*m = Result{Job: job, Size: size, Offset: off, Positions: pos}
	return nil
}

// Unmarshal decodes any message, dispatching on its kind byte.
func Unmarshal(data []byte) (Message, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	var m Message
	switch kind(data[1]) {
	case kindHello:
		m = new(Hello)
	case kindBatch:
		m = new(Batch)
	case kindResult:
		m = new(Result)
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, data[1])
	}
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return m, nil
}
