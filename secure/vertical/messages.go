package vertical

import (
	"encoding"
	"encoding/binary"
	"fmt"
	"github.com/fedscore/fedscore/secure/internal/wire"
	"math"
)

// Wire format. Every message is
//
//	version u8 (=1) ‖ kind u8 ‖ len(job) u16 ‖ job ‖ payload
//
// with little-endian integers; a list is a u32 count and its items. Decoders
// check every length before allocating, reject trailing bytes and never
// panic; whatever decodes re-encodes to the same bytes. They check
// structure only: whether a message fits the job is checked by the party
// that receives it.

const wireVersion = 1

type kind uint8

const (
	kindHello kind = iota + 1
	kindMatrix
	kindDeal
	kindShare
	kindScores
	kindCheckpoint
)

// Protocol tells the two protocols of this package apart.
type Protocol uint8

// The protocols.
const (
	ProtocolTraining Protocol = 1 // logistic regression
	ProtocolBins     Protocol = 2 // bad counts of the partner's bins
)

func (p Protocol) String() string {
	switch p {
	case ProtocolTraining:
		return "training"
	case ProtocolBins:
		return "bins"
	}
	return fmt.Sprintf("protocol(%d)", uint8(p))
}

// Product names one dealt product M_Sᵀ·[v]: the owner of a plain matrix M
// learns it for a vector v shared between the owner and the holder.
type Product uint8

// The products.
const (
	// PartnerGradient: owner partner (M = X_P), holder bank, v = 4d.
	PartnerGradient Product = 1
	// BankGradient: owner bank (M = X_B), holder partner, v = 4d.
	BankGradient Product = 2
	// BinCounts: owner partner (M = bin indicators), holder bank, v = y.
	BinCounts Product = 3
)

func (p Product) String() string {
	switch p {
	case PartnerGradient:
		return "partner-gradient"
	case BankGradient:
		return "bank-gradient"
	case BinCounts:
		return "bin-counts"
	}
	return fmt.Sprintf("product(%d)", uint8(p))
}

func (p Product) valid() bool { return p >= PartnerGradient && p <= BinCounts }

// Message is any protocol message.
type Message interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	JobID() string
	kind() kind
}

// Hello (every role → the two others, once per session) carries the
// sender's X25519 public key for this session and the iteration the session
// starts at (0, or the checkpoint's iteration when resuming).
type Hello struct {
	Job       string
	From      Role
	Protocol  Protocol
	Iteration uint64
	Key       [32]byte
}

// MatrixChunk (owner → holder, at setup) carries rows [Offset, Offset +
// len(Data)/Cols) of E = M − A, masked with the owner–holder pair stream:
// the partner sends E for PartnerGradient (or BinCounts), the bank E' for
// BankGradient.
type MatrixChunk struct {
	Job     string
	From    Role
	Product Product
	Offset  uint64 // first row
	Cols    uint32
	Data    []uint64
}

// Deal (helper → holder, per iteration) carries the holder's share of the
// correlation, c = A_Sᵀ·b − c_owner.
type Deal struct {
	Job       string
	To        Role
	Product   Product
	Iteration uint64
	C         []uint64
}

// Share (holder → owner, per iteration) carries F = v_holder − b and
// H = E_Sᵀ·b + c, both masked with the owner–holder pair stream. The bank
// sends one for PartnerGradient, the partner one for BankGradient.
type Share struct {
	Job       string
	From      Role
	Product   Product
	Iteration uint64
	F         []uint64 // one word per batch row
	H         []uint64 // one word per owner column
}

// PartialScores (partner → bank, at scoring) carries the partner's partial
// predictions u_P for aligned customers, in the agreed order.
type PartialScores struct {
	Job    string
	Scores []float64
}

// Checkpoint is a data party's state after a whole iteration: enough, with
// the job's Params and the party's data, to resume. It stays with the party.
type Checkpoint struct {
	Job       string
	Role      Role
	Iteration uint64
	Weights   []float64
	Velocity  []float64
}

var (
	_ Message = (*Hello)(nil)
	_ Message = (*MatrixChunk)(nil)
	_ Message = (*Deal)(nil)
	_ Message = (*Share)(nil)
	_ Message = (*PartialScores)(nil)
	_ Message = (*Checkpoint)(nil)
)

func (m *Hello) JobID() string         { return m.Job }
func (m *MatrixChunk) JobID() string   { return m.Job }
func (m *Deal) JobID() string          { return m.Job }
func (m *Share) JobID() string         { return m.Job }
func (m *PartialScores) JobID() string { return m.Job }
func (m *Checkpoint) JobID() string    { return m.Job }

func (*Hello) kind() kind         { return kindHello }
func (*MatrixChunk) kind() kind   { return kindMatrix }
func (*Deal) kind() kind          { return kindDeal }
func (*Share) kind() kind         { return kindShare }
func (*PartialScores) kind() kind { return kindScores }
func (*Checkpoint) kind() kind    { return kindCheckpoint }

// writer builds a message.
type writer struct{ b []byte }

func newWriter(k kind, job string, size int) (*writer, error) {
	if len(job) > maxJobLen {
		return nil, fmt.Errorf("%w: job id too long", ErrMalformed)
	}
	w := &writer{b: make([]byte, 0, 4+len(job)+size)}
	w.b = append(w.b, wireVersion, byte(k))
	w.b = binary.LittleEndian.AppendUint16(w.b, uint16(len(job)))
	w.b = append(w.b, job...)
	return w, nil
}

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *writer) words(v []uint64) {
	w.u32(uint32(len(v)))
	w.b, _ = binary.Append(w.b, binary.LittleEndian, v) // cannot fail for []uint64
}
func (w *writer) floats(v []float64) {
	w.u32(uint32(len(v)))
	for _, x := range v {
		w.u64(math.Float64bits(x))
	}
}

const maxListLen = 1 << 28

func checkList(n int) error {
	if n > maxListLen {
		return fmt.Errorf("%w: list of %d items", ErrMalformed, n)
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *Hello) MarshalBinary() ([]byte, error) {
	w, err := newWriter(kindHello, m.Job, 42)
	if err != nil {
		return nil, err
	}
	w.u8(uint8(m.From))
	w.u8(uint8(m.Protocol))
	w.u64(m.Iteration)
	w.b = append(w.b, m.Key[:]...)
	return w.b, nil
}

// MarshalBinary encodes the message.
func (m *MatrixChunk) MarshalBinary() ([]byte, error) {
	if err := checkList(len(m.Data)); err != nil {
		return nil, err
	}
	if m.Cols == 0 || len(m.Data)%int(m.Cols) != 0 {
		return nil, fmt.Errorf("%w: %d words in rows of %d", ErrMalformed, len(m.Data), m.Cols)
	}
	w, err := newWriter(kindMatrix, m.Job, 18+8*len(m.Data))
	if err != nil {
		return nil, err
	}
	w.u8(uint8(m.From))
	w.u8(uint8(m.Product))
	w.u64(m.Offset)
	w.u32(m.Cols)
	w.words(m.Data)
	return w.b, nil
}

// MarshalBinary encodes the message.
func (m *Deal) MarshalBinary() ([]byte, error) {
	if err := checkList(len(m.C)); err != nil {
		return nil, err
	}
	w, err := newWriter(kindDeal, m.Job, 14+8*len(m.C))
	if err != nil {
		return nil, err
	}
	w.u8(uint8(m.To))
	w.u8(uint8(m.Product))
	w.u64(m.Iteration)
	w.words(m.C)
	return w.b, nil
}

// MarshalBinary encodes the message.
func (m *Share) MarshalBinary() ([]byte, error) {
	if err := checkList(len(m.F)); err != nil {
		return nil, err
	}
	if err := checkList(len(m.H)); err != nil {
		return nil, err
	}
	w, err := newWriter(kindShare, m.Job, 18+8*(len(m.F)+len(m.H)))
	if err != nil {
		return nil, err
	}
	w.u8(uint8(m.From))
	w.u8(uint8(m.Product))
	w.u64(m.Iteration)
	w.words(m.F)
	w.words(m.H)
	return w.b, nil
}

// MarshalBinary encodes the message.
func (m *PartialScores) MarshalBinary() ([]byte, error) {
	if err := checkList(len(m.Scores)); err != nil {
		return nil, err
	}
	w, err := newWriter(kindScores, m.Job, 4+8*len(m.Scores))
	if err != nil {
		return nil, err
	}
	w.floats(m.Scores)
	return w.b, nil
}

// MarshalBinary encodes the checkpoint.
func (m *Checkpoint) MarshalBinary() ([]byte, error) {
	if err := checkList(len(m.Weights)); err != nil {
		return nil, err
	}
	if err := checkList(len(m.Velocity)); err != nil {
		return nil, err
	}
	w, err := newWriter(kindCheckpoint, m.Job, 17+8*(len(m.Weights)+len(m.Velocity)))
	if err != nil {
		return nil, err
	}
	w.u8(uint8(m.Role))
	w.u64(m.Iteration)
	w.floats(m.Weights)
	w.floats(m.Velocity)
	return w.b, nil
}

type reader struct{ *wire.Reader }

// words reads a u32 count and that many words, checking the count against
// the bytes left before allocating.
func (r *reader) words(what string) []uint64 {
	n := int(r.U32(what + " count"))
	if !r.OK() {
		return nil
	}
	if n > maxListLen || n > r.Len()/8 {
		r.Fail(what + " longer than the message")
		return nil
	}
	raw := r.Take(8*n, what)
	out := make([]uint64, n)
	if _, err := binary.Decode(raw, binary.LittleEndian, out); err != nil {
		r.Fail(what + ": " + err.Error())
		return nil
	}
	return out
}

func (r *reader) floats(what string) []float64 {
	w := r.words(what)
	if w == nil {
		return nil
	}
	out := make([]float64, len(w))
	for i, x := range w {
		out[i] = math.Float64frombits(x)
	}
	return out
}

func (r *reader) role(what string) Role {
	v := Role(r.U8(what))
	if r.OK() && !v.valid() {
		r.Fail("unknown " + what)
	}
	return v
}

func (r *reader) product() Product {
	v := Product(r.U8("product"))
	if r.OK() && !v.valid() {
		r.Fail("unknown product")
	}
	return v
}

func readHeader(data []byte, want kind) (*reader, string) {
	r := &reader{wire.NewReader(data, ErrMalformed)}
	if v := r.U8("version"); r.OK() && v != wireVersion {
		r.Fail(fmt.Sprintf("version %d", v))
	}
	if k := kind(r.U8("kind")); r.OK() && k != want {
		r.Fail(fmt.Sprintf("kind %d, want %d", k, want))
	}
	n := int(r.U16("job length"))
	if r.OK() && n > maxJobLen {
		r.Fail("job id too long")
	}
	return r, string(r.Take(n, "job"))
}

// UnmarshalBinary decodes the message.
func (m *Hello) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindHello)
	from := r.role("role")
	proto := Protocol(r.U8("protocol"))
	if r.OK() && proto != ProtocolTraining && proto != ProtocolBins {
		r.Fail("unknown protocol")
	}
	it := r.U64("iteration")
	key := r.Take(32, "key")
	if err := r.End(); err != nil {
		return err
	}
	*m = Hello{Job: job, From: from, Protocol: proto, Iteration: it}
	copy(m.Key[:], key)
	return nil
}

// UnmarshalBinary decodes the message.
func (m *MatrixChunk) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindMatrix)
	from := r.role("role")
	prod := r.product()
	off := r.U64("offset")
	cols := r.U32("columns")
	d := r.words("matrix")
	if r.OK() && (cols == 0 || len(d)%int(cols) != 0) {
		r.Fail("matrix not whole rows")
	}
	if err := r.End(); err != nil {
		return err
	}
	*m = MatrixChunk{Job: job, From: from, Product: prod, Offset: off, Cols: cols, Data: d}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Deal) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindDeal)
	to := r.role("recipient")
	prod := r.product()
	it := r.U64("iteration")
	c := r.words("correlation")
	if err := r.End(); err != nil {
		return err
	}
	*m = Deal{Job: job, To: to, Product: prod, Iteration: it, C: c}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *Share) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindShare)
	from := r.role("role")
	prod := r.product()
	it := r.U64("iteration")
	f := r.words("F")
	h := r.words("H")
	if err := r.End(); err != nil {
		return err
	}
	*m = Share{Job: job, From: from, Product: prod, Iteration: it, F: f, H: h}
	return nil
}

// UnmarshalBinary decodes the message.
func (m *PartialScores) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindScores)
	s := r.floats("scores")
	if err := r.End(); err != nil {
		return err
	}
	*m = PartialScores{Job: job, Scores: s}
	return nil
}

// UnmarshalBinary decodes the checkpoint.
func (m *Checkpoint) UnmarshalBinary(data []byte) error {
	r, job := readHeader(data, kindCheckpoint)
	role := r.role("role")
	it := r.U64("iteration")
	w := r.floats("weights")
	v := r.floats("velocity")
	if err := r.End(); err != nil {
		return err
	}
	*m = Checkpoint{Job: job, Role: role, Iteration: it, Weights: w, Velocity: v}
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
	case kindMatrix:
		m = new(MatrixChunk)
	case kindDeal:
		m = new(Deal)
	case kindShare:
		m = new(Share)
	case kindScores:
		m = new(PartialScores)
	case kindCheckpoint:
		m = new(Checkpoint)
	default:
		return nil, fmt.Errorf("%w: unknown kind %d", ErrMalformed, data[1])
	}
	if err := m.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return m, nil
}
