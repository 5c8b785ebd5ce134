package psi

import (
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/ot/simot"
)

// OPRFPartner is the partner's side of the OPRF protocol: the OT-extension
// sender, which ends with a key for each of the bank's bins and evaluates
// the OPRF of each of its ids in that id's three candidate bins. Its
// methods are steps that do no I/O; it is not safe for concurrent use.
//
// Order of calls: Hello and ReceiveHello; ReceiveSetup with the bank's
// step 1, sending back the step 2 it returns; ReceiveSetup with step 3;
// ReceiveMatrix for each OPRFMatrix batch; NextTags until io.EOF, sending
// each batch; ReceiveResult until Done; Intersection.
type OPRFPartner struct {
	base
	hashes    [][PointSize]byte
	choice    [codeBytes]byte // s: one choice bit per base OT
	codeKey   [16]byte
	receivers []simot.Receiver
	streams   []columnStream // the seeds k_i^{s_i}
	code      coder
	step      uint8

	bins, chunk uint64
	// sched lists the (bin, tag position) of every evaluation, sorted by
	// chunk; chunkAt[c] is where chunk c's entries start.
	sched   []evaluation
	chunkAt []int
	// perm[k] is the row whose hash-g tag sits at position g·n + k, for
	// every g. One shuffle for the three groups, so the position the bank
	// names in a Result (k) does not tell the partner which hash the bank
	// placed the id by: that would show which of the bank's bins are
	// occupied, and so hint at the bank's ids outside the intersection.
	perm []uint32
	tags []byte // TagSize per position, 3n positions
	// matrix chunks received
	got  bitset
	left int
	// Buffers reused across chunks.
	cols [][]byte
	rows []byte

	sent int // tag positions sent
	sink resultSink
}

type evaluation struct{ bin, pos uint32 }

// NewOPRFPartner validates and hashes the partner's ids and draws its OT
// choices, code key and shuffles from c.Rand. ids stays owned by the
// caller.
func NewOPRFPartner(c Config, ids []string) (*OPRFPartner, error) {
	b, hashes, err := setup(c, ProtocolOPRF, RolePartner, ids)
	if err != nil {
		return nil, err
	}
	p := &OPRFPartner{base: b, hashes: hashes}
	if _, err := io.ReadFull(b.cfg.Rand, p.choice[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(b.cfg.Rand, p.codeKey[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	if p.perm, err = shuffle(b.cfg.Rand, len(ids)); err != nil {
		return nil, err
	}
	return p, nil
}

// ReceiveHello takes the bank's Hello.
func (p *OPRFPartner) ReceiveHello(h *Hello) error {
	if err := p.base.ReceiveHello(h); err != nil {
		return err
	}
	p.bins, p.chunk = binsFor(p.peer.Count), matrixChunk(int(p.peer.BatchSize))
	nb := batches(p.bins, p.chunk)
	p.got, p.left = newBitset(nb), nb
	return nil
}

func (p *OPRFPartner) choiceBit(i int) int { return int(p.choice[i/8] >> (i % 8) & 1) }

// ReceiveSetup takes the bank's step 1, returning step 2, or its step 3,
// returning nil.
func (p *OPRFPartner) ReceiveSetup(s *Setup) (*Setup, error) {
	switch {
	case s.Job != p.cfg.Job:
		return nil, fmt.Errorf("%w: %q", ErrWrongJob, s.Job)
	case p.peer == nil:
		return nil, fmt.Errorf("%w: setup before the bank's hello", ErrOutOfOrder)
	case s.Step != p.step+1 || s.Step == 2 || s.Step > 3:
		return nil, fmt.Errorf("%w: setup step %d after step %d", ErrOutOfOrder, s.Step, p.step)
	case len(s.Data) != setupSize(s.Step):
		return nil, fmt.Errorf("%w: setup step %d of %d bytes", ErrMalformed, s.Step, len(s.Data))
	}
	if s.Step == 1 {
		return p.chooseSeeds(s)
	}
	return nil, p.openSeeds(s)
}

// chooseSeeds answers the OT senders' first messages with the choice bits
// and schedules the evaluations by the bank's cuckoo seed.
func (p *OPRFPartner) chooseSeeds(s *Setup) (*Setup, error) {
	elems, err := decodeElements(s.Data, "bank's")
	if err != nil {
		return nil, err
	}
	hasher, err := newBinHasher(s.Key[:], p.bins)
	if err != nil {
		return nil, err
	}
	p.receivers = make([]simot.Receiver, codeBits)
	data, err := encodeElements(p.cfg.Workers, func(i int) group.Element {
		return p.receivers[i].Round1Receiver(group.Ristretto255, p.choiceBit(i), i, elems[i])
	})
	if err != nil {
		return nil, err
	}
	if err := p.schedule(hasher); err != nil {
		return nil, err
	}
	p.step = 2
	return &Setup{Job: p.cfg.Job, Step: 2, Key: p.codeKey, Data: data}, nil
}

// schedule lists each id's evaluations in its three bins, sorted by matrix
// chunk with a counting sort. A hash that repeats an earlier one of the
// same id gets a random tag instead: the bank placed the id by the first,
// and two equal tags at one position of two groups would tell the bank
// that this id's hashes collide, which it could test guessed ids for.
func (p *OPRFPartner) schedule(h binHasher) error {
	n := len(p.hashes)
	var seed [32]byte
	if _, err := io.ReadFull(p.cfg.Rand, seed[:]); err != nil {
		return fmt.Errorf("psi: reading randomness: %w", err)
	}
	rng := mrand.New(mrand.NewChaCha8(seed))
	p.tags = make([]byte, cuckooHashes*n*TagSize)
	inv := make([]uint32, n)
	for k, row := range p.perm {
		inv[row] = uint32(k)
	}
	bins := make([][cuckooHashes]uint32, n)
	parallel(n, p.cfg.Workers, 4096, func(_, lo, hi int) {
		for row := lo; row < hi; row++ {
			bins[row] = h.bins(&p.hashes[row])
		}
	})
	chunks := batches(p.bins, p.chunk)
	p.chunkAt = make([]int, chunks+1)
	real := func(b [cuckooHashes]uint32, g int) bool { return firstHash(b, b[g]) == uint8(g) }
	for _, b := range bins {
		for g := range cuckooHashes {
			if real(b, g) {
				p.chunkAt[uint64(b[g])/p.chunk+1]++
			}
		}
	}
	for c := range chunks {
		p.chunkAt[c+1] += p.chunkAt[c]
	}
	p.sched = make([]evaluation, p.chunkAt[chunks])
	fill := slices.Clone(p.chunkAt[:chunks])
	for row, b := range bins {
		for g := range cuckooHashes {
			pos := uint32(g*n) + inv[row]
			if !real(b, g) {
				for i := range TagSize / 8 {
					v := rng.Uint64()
					for k := range 8 {
						p.tags[int(pos)*TagSize+8*i+k] = byte(v >> (8 * k))
					}
				}
				continue
			}
			c := uint64(b[g]) / p.chunk
			p.sched[fill[c]] = evaluation{bin: b[g], pos: pos}
			fill[c]++
		}
	}
	return nil
}

// openSeeds decrypts the chosen seed of each base OT.
func (p *OPRFPartner) openSeeds(s *Setup) error {
	p.streams = make([]columnStream, codeBits)
	failed := make([]error, codeBits)
	parallel(codeBits, p.cfg.Workers, 16, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			e0 := s.Data[(2*i)*otCipherSize : (2*i+1)*otCipherSize]
			e1 := s.Data[(2*i+1)*otCipherSize : (2*i+2)*otCipherSize]
			if err := p.receivers[i].Round3Receiver(e0, e1, p.choiceBit(i)); err != nil {
				failed[i] = err
				continue
			}
			seed := p.receivers[i].Returnmc()
			if p.streams[i], failed[i] = newColumnStream(seed); failed[i] == nil && len(seed) != 16 {
				failed[i] = fmt.Errorf("seed of %d bytes", len(seed))
			}
		}
	})
	for i, err := range failed {
		if err != nil {
			return fmt.Errorf("%w: base OT %d: %v", ErrBaseOT, i, err)
		}
	}
	code, err := newCoder(p.codeKey[:])
	if err != nil {
		return err
	}
	p.code, p.receivers, p.step = code, nil, 3
	return nil
}

// ReceiveMatrix takes an OPRFMatrix batch: the partner's key for bin j is
// q_j = g_j ⊕ (u_j ∧ s), with g the rows of its chosen column streams, and
// its tag for id y in bin j is H(j, q_j ⊕ (C(y) ∧ s)), which equals the
// bank's H(j, t_j) exactly when y is the bank's id in that bin.
func (p *OPRFPartner) ReceiveMatrix(m *Batch) error {
	if m.Job != p.cfg.Job {
		return fmt.Errorf("%w: %q", ErrWrongJob, m.Job)
	}
	if m.Kind != OPRFMatrix {
		return fmt.Errorf("%w: %v batch, want %v", ErrOutOfOrder, m.Kind, OPRFMatrix)
	}
	if p.step != 3 {
		return fmt.Errorf("%w: matrix before the base OTs", ErrOutOfOrder)
	}
	seq, err := framing(m, p.bins, p.chunk)
	if err != nil {
		return err
	}
	if p.got.has(seq) {
		return fmt.Errorf("%w: matrix batch at %d", ErrDuplicate, m.Offset)
	}
	lo, nb := m.Offset, m.Len()
	if p.cols == nil {
		p.cols = make([][]byte, codeBits)
		for i := range p.cols {
			p.cols[i] = make([]byte, p.chunk/8)
		}
		p.rows = make([]byte, p.chunk*codeBytes)
	}
	parallel(codeBits, p.cfg.Workers, 32, func(_, l, h int) {
		for i := l; i < h; i++ {
			p.streams[i].fill(p.cols[i][:nb/8], lo)
		}
	})
	parallel(nb/64, p.cfg.Workers, 8, func(_, l, h int) { columnsToRows(p.cols, p.rows, l, h) })
	entries := p.sched[p.chunkAt[seq]:p.chunkAt[seq+1]]
	n := len(p.hashes)
	parallel(len(entries), p.cfg.Workers, 1024, func(_, l, h int) {
		var c, x [codeBytes]byte
		for _, e := range entries[l:h] {
			j := int(uint64(e.bin) - lo)
			row := p.perm[int(e.pos)%n]
			p.code.code(&c, &p.hashes[row])
			xor3(c[:], c[:], m.Data[j*codeBytes:(j+1)*codeBytes], zeroCode[:])
			xorAnd(x[:], p.rows[j*codeBytes:(j+1)*codeBytes], c[:], p.choice[:])
			tagOf(p.tags[int(e.pos)*TagSize:], e.bin, x[:])
		}
	})
	p.got.set(seq)
	p.left--
	if p.left == 0 {
		p.cols, p.rows, p.sched = nil, nil, nil
	}
	return nil
}

// NextTags returns the next OPRFTags batch, or io.EOF once all have been
// produced. Position g·n + k holds the hash-g tag of row perm[k], so the
// bank does not learn the partner's row order. It can tell which three
// tags belong to one id, which is harmless: the tags of ids outside the
// intersection are pseudorandom, and a common id's other two tags are
// outputs at bins that hold other ids (or random, for a repeated bin).
func (p *OPRFPartner) NextTags() (*Batch, error) {
	if p.step != 3 || p.left > 0 {
		return nil, fmt.Errorf("%w: tags before the whole matrix arrived", ErrOutOfOrder)
	}
	total := len(p.tags) / TagSize
	if p.sent == total {
		return nil, io.EOF
	}
	n := min(p.cfg.BatchSize, total-p.sent)
	off := p.sent
	p.sent += n
	return &Batch{Job: p.cfg.Job, Kind: OPRFTags, Offset: uint64(off),
		Data: slices.Clone(p.tags[off*TagSize : (off+n)*TagSize])}, nil
}

// ReceiveResult takes one Result from the bank. Chunks must come in order.
func (p *OPRFPartner) ReceiveResult(r *Result) error {
	n := len(p.hashes)
	if p.peer != nil && p.sink.rowOf == nil {
		p.sink = resultSink{bankOnly: p.cfg.BankOnly, ownCount: uint64(n), peerCount: p.peer.Count,
			positions: uint64(n), rowOf: func(pos uint32) int { return int(p.perm[pos]) }}
	}
	ready := p.step == 3 && p.left == 0 && p.tags != nil && p.sent == len(p.tags)/TagSize
	return p.sink.receive(p.cfg.Job, r, ready)
}

// Done reports whether the whole result has arrived.
func (p *OPRFPartner) Done() bool { return p.sink.done() }

// Intersection returns the partner's view: the size, and unless BankOnly
// the rows of its ids in the agreed order.
func (p *OPRFPartner) Intersection() (Intersection, error) { return p.sink.intersection() }
