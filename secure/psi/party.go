package psi

import (
	"fmt"
	"io"
	mrand "math/rand/v2"

	"github.com/cloudflare/circl/dh/x25519"
)

// base is what every party of either protocol has: its configuration, its
// id count and the peer's Hello.
type base struct {
	cfg   Config
	role  Role
	count int
	limit uint64 // the most ids either side may have in this protocol
	peer  *Hello
}

// party is what the bank and the partner of the ECDH protocol share: the
// hashes of their own ids in shuffled order, the permutation back to rows,
// and the secret scalar.
type party struct {
	base
	secret x25519.Key
	hashes []byte   // 32 bytes per id: at pos, H(ids[perm[pos]])
	perm   []uint32 // shuffled position → row
	sent   int      // own ids already sent blinded
}

// setup validates the configuration for protocol want and hashes the ids.
func setup(c Config, want Protocol, role Role, ids []string) (base, [][PointSize]byte, error) {
	cfg, err := c.withDefaults()
	if err != nil {
		return base{}, nil, err
	}
	if cfg.Protocol != want {
		return base{}, nil, fmt.Errorf("%w: a %v %v for a %v configuration", ErrConfig, want, role, cfg.Protocol)
	}
	hashes, err := hashIDs(&cfg, ids)
	if err != nil {
		return base{}, nil, err
	}
	limit := uint64(MaxIDs)
	if want == ProtocolOPRF {
		limit = MaxOPRFIDs
	}
	if uint64(len(ids)) > limit {
		return base{}, nil, ErrTooManyIDs
	}
	return base{cfg: cfg, role: role, count: len(ids), limit: limit}, hashes, nil
}

// shuffle draws a seed from r and returns a random permutation of [0, n).
func shuffle(r io.Reader, n int) ([]uint32, error) {
	var seed [32]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	rng := mrand.New(mrand.NewChaCha8(seed))
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	return perm, nil
}

func newParty(c Config, role Role, ids []string) (party, error) {
	b, hashes, err := setup(c, ProtocolECDH, role, ids)
	if err != nil {
		return party{}, err
	}
	cfg := b.cfg
	p := party{base: b}
	if _, err := io.ReadFull(cfg.Rand, p.secret[:]); err != nil {
		return party{}, fmt.Errorf("psi: reading randomness: %w", err)
	}
	if p.perm, err = shuffle(cfg.Rand, len(ids)); err != nil {
		return party{}, err
	}
	p.hashes = make([]byte, len(hashes)*PointSize)
	for pos, row := range p.perm {
		copy(p.hashes[pos*PointSize:], hashes[row][:])
	}
	return p, nil
}

// Hello is this party's opening message.
func (p *base) Hello() *Hello {
	return &Hello{Job: p.cfg.Job, From: p.role, Count: uint64(p.count),
		BankOnly: p.cfg.BankOnly, BatchSize: uint32(p.cfg.BatchSize), Protocol: p.cfg.Protocol}
}

// ReceiveHello takes the other party's Hello.
func (p *base) ReceiveHello(h *Hello) error {
	switch {
	case h.Job != p.cfg.Job:
		return fmt.Errorf("%w: %q", ErrWrongJob, h.Job)
	case h.From == p.role || (h.From != RoleBank && h.From != RolePartner):
		return fmt.Errorf("%w: hello from %v", ErrWrongRole, h.From)
	case p.peer != nil:
		return fmt.Errorf("%w: second hello", ErrDuplicate)
	case h.BankOnly != p.cfg.BankOnly:
		return fmt.Errorf("%w: %v has BankOnly=%v", ErrModeMismatch, h.From, h.BankOnly)
	case h.Protocol != p.cfg.Protocol:
		return fmt.Errorf("%w: %v speaks %v, this side %v", ErrProtocolMismatch, h.From, h.Protocol, p.cfg.Protocol)
	case h.Count == 0 || h.Count > p.limit:
		return fmt.Errorf("%w: %v announces %d ids", ErrBadBatch, h.From, h.Count)
	case h.BatchSize == 0 || h.BatchSize > MaxBatchSize:
		return fmt.Errorf("%w: %v announces batch size %d", ErrBadBatch, h.From, h.BatchSize)
	case streamBatches(h) > MaxBatches:
		// Each side keeps a bitset and an index per batch of the peer's
		// streams; a tiny batch size for a huge count would make it
		// allocate hundreds of MB before refusing anything.
		return fmt.Errorf("%w: %v announces %d ids in batches of %d, over %d batches", ErrBadBatch, h.From, h.Count, h.BatchSize, MaxBatches)
	}
	c := *h
	p.peer = &c
	return nil
}

// nextBlinded raises the next batch of own hashes to the secret.
func (p *party) nextBlinded(k BatchKind) (*Batch, error) {
	if p.sent == len(p.perm) {
		return nil, io.EOF
	}
	off := p.sent
	n := min(p.cfg.BatchSize, len(p.perm)-off)
	data := make([]byte, n*PointSize)
	if err := multiply(p.cfg.Workers, &p.secret, p.hashes[off*PointSize:(off+n)*PointSize], data, PointSize); err != nil {
		return nil, err
	}
	p.sent += n
	return &Batch{Job: p.cfg.Job, Kind: k, Offset: uint64(off), Data: data}, nil
}

// checkPeerBatch checks that b is the peer's batch of kind k at a batch
// boundary of the peer's framing, and returns its batch index.
func (p *party) checkPeerBatch(b *Batch, k BatchKind) (int, error) {
	if b.Job != p.cfg.Job {
		return 0, fmt.Errorf("%w: %q", ErrWrongJob, b.Job)
	}
	if b.Kind != k {
		return 0, fmt.Errorf("%w: %v batch, want %v", ErrOutOfOrder, b.Kind, k)
	}
	if p.peer == nil {
		return 0, fmt.Errorf("%w: batch before the peer's hello", ErrOutOfOrder)
	}
	return framing(b, p.peer.Count, uint64(p.peer.BatchSize))
}

// framing checks that b starts at a multiple of bs below count and holds
// exactly min(bs, count-offset) elements of its kind.
func framing(b *Batch, count, bs uint64) (int, error) {
	s := b.Kind.elemSize()
	if s == 0 || len(b.Data)%s != 0 {
		return 0, fmt.Errorf("%w: %d bytes of %v", ErrBadBatch, len(b.Data), b.Kind)
	}
	if b.Offset >= count || b.Offset%bs != 0 {
		return 0, fmt.Errorf("%w: offset %d (count %d, batch size %d)", ErrBadBatch, b.Offset, count, bs)
	}
	if want := min(bs, count-b.Offset); uint64(len(b.Data)/s) != want {
		return 0, fmt.Errorf("%w: %d points at offset %d, want %d", ErrBadBatch, len(b.Data)/s, b.Offset, want)
	}
	return int(b.Offset / bs), nil
}

// multiply sets out[i] to the first size bytes of X25519(secret, in[i]),
// where in holds 32-byte points back to back, on the worker pool. It
// refuses low-order inputs.
func multiply(workers int, secret *x25519.Key, in []byte, out []byte, size int) error {
	bad := make([]bool, workers)
	parallel(len(in)/PointSize, workers, 256, func(w, lo, hi int) {
		var r x25519.Key
		for i := lo; i < hi; i++ {
			if !x25519.Shared(&r, secret, (*x25519.Key)(in[i*PointSize:(i+1)*PointSize])) {
				bad[w] = true
			}
			copy(out[i*size:(i+1)*size], r[:size])
		}
	})
	for _, b := range bad {
		if b {
			return ErrBadPoint
		}
	}
	return nil
}

// MaxBatches bounds the batches of any one stream a peer announces.
const MaxBatches = 1 << 22

// streamBatches is the number of batches of the longest stream the sender
// of h will send: its blinded ids (ECDH), its tags (an OPRF partner, three
// per id) or its matrix chunks (an OPRF bank).
func streamBatches(h *Hello) uint64 {
	bs := uint64(h.BatchSize)
	switch {
	case h.Protocol != ProtocolOPRF:
		return (h.Count + bs - 1) / bs
	case h.From == RolePartner:
		return (3*h.Count + bs - 1) / bs
	}
	c := matrixChunk(int(h.BatchSize))
	return (binsFor(h.Count) + c - 1) / c
}

// bitset records which batches arrived.
type bitset []uint64

func newBitset(n int) bitset       { return make(bitset, (n+63)/64) }
func (b bitset) has(i int) bool    { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) set(i int)         { b[i/64] |= 1 << (i % 64) }
func (b bitset) clear(i int)       { b[i/64] &^= 1 << (i % 64) }
func batches(count, bs uint64) int { return int((count + bs - 1) / bs) }
