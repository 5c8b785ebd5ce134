package psi

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"github.com/fedscore/fedscore/secure/internal/wire"
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
	kindSetup
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
	// OPRFMatrix (bank → partner): the OT-extension matrix U, one 64-byte
	// row per cuckoo bin, from bin Offset on.
	OPRFMatrix BatchKind = 4
	// OPRFTags (partner → bank): the partner's OPRF outputs, 16 bytes each,
	// from position Offset of its tag stream on.
	OPRFTags BatchKind = 5
)

func (k BatchKind) elemSize() int {
	switch k {
	case BankBlinded, PartnerBlinded:
		return PointSize
	case BankDoubled, OPRFTags:
		return TagSize
	case OPRFMatrix:
		return codeBytes
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
	case OPRFMatrix:
		return "oprf-matrix"
	case OPRFTags:
		return "oprf-tags"
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
	Protocol  Protocol
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

// Setup carries the base oblivious transfers of the OPRF protocol, in
// three steps:
//
//	1 bank → partner: Key = the cuckoo seed; Data = A_i (32 bytes each)
//	2 partner → bank: Key = the code key;    Data = B_i (32 bytes each)
//	3 bank → partner: Key = zero;            Data = (e0_i, e1_i), 44 bytes each
//
// for i < 512, as in circl's ot/simot (ristretto255 elements; each e is
// AES-GCM: nonce, one 16-byte seed, tag).
type Setup struct {
	Job  string
	Step uint8
	Key  [16]byte
	Data []byte
}

// otCipherSize is one simot ciphertext: 12-byte nonce, 16-byte seed,
// 16-byte tag.
const otCipherSize = 12 + 16 + 16

// setupSize is the Data length of each step.
func setupSize(step uint8) int {
	switch step {
	case 1, 2:
		return codeBits * 32
	case 3:
		return codeBits * 2 * otCipherSize
	}
	return -1
}

var (
	_ Message = (*Hello)(nil)
	_ Message = (*Batch)(nil)
	_ Message = (*Result)(nil)
	_ Message = (*Setup)(nil)
)

func (m *Hello) JobID() string  { return m.Job }
func (m *Batch) JobID() string  { return m.Job }
func (m *Result) JobID() string { return m.Job }
func (m *Setup) JobID() string  { return m.Job }

func (*Hello) kind() kind  { return kindHello }
func (*Batch) kind() kind  { return kindBatch }
func (*Result) kind() kind { return kindResult }
func (*Setup) kind() kind  { return kindSetup }

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
	b := header(kindHello, m.Job, 15)
	b = append(b, byte(m.From))
	b = binary.LittleEndian.AppendUint64(b, m.Count)
	b = append(b, boolByte(m.BankOnly))
	b = binary.LittleEndian.AppendUint32(b, m.BatchSize)
	return append(b, byte(m.Protocol)), nil
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

// MarshalBinary encodes the message.
func (m *Setup) MarshalBinary() ([]byte, error) {
	if len(m.Job) > MaxJobLen || len(m.Data) != setupSize(m.Step) {
		return nil, fmt.Errorf("%w: setup framing", ErrMalformed)
	}
	b := header(kindSetup, m.Job, 17+len(m.Data))
	b = append(b, m.Step)
	b = append(b, m.Key[:]...)
	return append(b, m.Data...), nil
}

// UnmarshalBinary decodes the message.
func (m *Setup) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindSetup)
	step := r.U8("setup step")
	n := setupSize(step)
	if r.OK() && n < 0 {
		r.Fail("unknown setup step")
	}
	key := r.Take(16, "key")
	d := r.Take(max(n, 0), "setup data")
	if err := r.End(); err != nil {
		return err
	}
	*m = Setup{Job: job, Step: step, Data: append([]byte(nil), d...)}
	copy(m.Key[:], key)
	return nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

type reader struct{ *wire.Reader }

func readHeader(data []byte, want kind) (*reader, string) {
	r := &reader{wire.NewReader(data, ErrMalformed)}
	if v := r.U8("version"); r.OK() && v != wireVersion {
		r.Fail(fmt.Sprintf("version %d", v))
	}
	if k := kind(r.U8("kind")); r.OK() && k != want {
		r.Fail(fmt.Sprintf("kind %d, want %d", k, want))
	}
	n := int(r.U16("job length"))
	if r.OK() && n > MaxJobLen {
		r.Fail("job id too long")
	}
	job := string(r.Take(n, "job"))
	return r, job
}

// UnmarshalBinary decodes the message.
func (m *Hello) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindHello)
	from := Role(r.U8("role"))
	if r.OK() && from != RoleBank && from != RolePartner {
		r.Fail("unknown role")
	}
	count := r.U64("count")
	bankOnly := r.Bool("bank-only flag")
	bs := r.U32("batch size")
	proto := Protocol(r.U8("protocol"))
	if r.OK() && proto != ProtocolECDH && proto != ProtocolOPRF {
		r.Fail("unknown protocol")
	}
	if err := r.End(); err != nil {
		return err
	}
	*m = Hello{Job: job, From: from, Count: count, BankOnly: bankOnly, BatchSize: bs, Protocol: proto}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Batch) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindBatch)
	k := BatchKind(r.U8("batch kind"))
	s := k.elemSize()
	if r.OK() && s == 0 {
		r.Fail("unknown batch kind")
	}
	off := r.U64("offset")
	n := r.U32("count")
	if r.OK() && n > MaxBatchSize {
		r.Fail("batch too long")
	}
	d := r.Take(int(n)*s, "points")
	if err := r.End(); err != nil {
		return err
	}
	*m = Batch{Job: job, Kind: k, Offset: off, Data: append([]byte(nil), d...)}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Result) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindResult)
	size := r.U64("size")
	off := r.U64("offset")
	n := r.U32("count")
	if r.OK() && n > MaxBatchSize {
		r.Fail("result chunk too long")
	}
	raw := r.Take(4*int(n), "positions")
	if err := r.End(); err != nil {
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
	case kindSetup:
		m = new(Setup)
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, data[1])
	}
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return m, nil
}
