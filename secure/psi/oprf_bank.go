package psi

import (
	"bytes"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/ot/simot"
)

// MaxOPRFIDs caps each side of the OPRF protocol: the partner's tag stream
// holds three positions per id, and positions travel as u32.
const MaxOPRFIDs = MaxIDs / cuckooHashes

// OPRFBank is the bank's side of the OPRF protocol: the OT-extension
// receiver, which places its ids in a cuckoo table, learns one OPRF output
// per bin and matches the partner's outputs against them. Its methods are
// steps that do no I/O; it is not safe for concurrent use.
//
// Order of calls: Hello and ReceiveHello; Setup (step 1) for the partner;
// ReceiveSetup with the partner's step 2, sending back the step 3 it
// returns; NextMatrix until io.EOF, sending each batch; ReceiveTags for
// each OPRFTags batch; Finish.
type OPRFBank struct {
	base
	hashes  [][PointSize]byte // by row
	table   cuckooTable
	seed    [16]byte // cuckoo seed
	bins    uint64
	chunk   uint64
	seeds   [2][codeBits][16]byte // base-OT messages m0, m1
	senders []simot.Sender
	streams [2][]columnStream
	code    coder
	step    uint8 // last setup step done
	nextBin uint64

	// Buffers reused across matrix chunks.
	cols [2][][]byte
	rows [2][]byte

	index    map[[TagSize]byte]uint32 // own tag → bin
	tagsGot  bitset
	tagsLeft int
	matched  bitset // bins already matched
	matches  []match
	finished bool
}

// NewOPRFBank validates and hashes the bank's ids, builds its cuckoo table
// and draws its base-OT seeds from c.Rand. ids stays owned by the caller.
func NewOPRFBank(c Config, ids []string) (*OPRFBank, error) {
	b, hashes, err := setup(c, ProtocolOPRF, RoleBank, ids)
	if err != nil {
		return nil, err
	}
	bank := &OPRFBank{base: b, hashes: hashes, bins: binsFor(uint64(len(ids))), chunk: matrixChunk(b.cfg.BatchSize)}
	var rngSeed [32]byte
	if _, err := io.ReadFull(b.cfg.Rand, rngSeed[:]); err != nil {
		return nil, fmt.Errorf("psi: reading randomness: %w", err)
	}
	rng := mrand.New(mrand.NewChaCha8(rngSeed))
	placed := false
	for range cuckooTries {
		if _, err := io.ReadFull(b.cfg.Rand, bank.seed[:]); err != nil {
			return nil, fmt.Errorf("psi: reading randomness: %w", err)
		}
		h, err := newBinHasher(bank.seed[:], bank.bins)
		if err != nil {
			return nil, err
		}
		if bank.table, placed = buildCuckoo(h, hashes, rng.Uint64); placed {
			break
		}
	}
	if !placed {
		return nil, fmt.Errorf("psi: cuckoo table for %d ids did not settle in %d tries", len(ids), cuckooTries)
	}
	for k := range bank.seeds {
		for i := range bank.seeds[k] {
			if _, err := io.ReadFull(b.cfg.Rand, bank.seeds[k][i][:]); err != nil {
				return nil, fmt.Errorf("psi: reading randomness: %w", err)
			}
		}
	}
	return bank, nil
}

// ReceiveHello takes the partner's Hello.
func (b *OPRFBank) ReceiveHello(h *Hello) error {
	if err := b.base.ReceiveHello(h); err != nil {
		return err
	}
	nb := batches(3*b.peer.Count, uint64(b.peer.BatchSize))
	b.tagsGot, b.tagsLeft = newBitset(nb), nb
	return nil
}

// Setup returns step 1 of the base OTs: the cuckoo seed and the OT
// senders' first messages.
func (b *OPRFBank) Setup() (*Setup, error) {
	if b.peer == nil || b.step != 0 {
		return nil, fmt.Errorf("%w: setup before the partner's hello, or twice", ErrOutOfOrder)
	}
	g := group.Ristretto255
	b.senders = make([]simot.Sender, codeBits)
	data, err := encodeElements(b.cfg.Workers, func(i int) group.Element { return b.senders[i].InitSender(g, b.seeds[0][i][:], b.seeds[1][i][:], i) })
	if err != nil {
		return nil, err
	}
	b.step = 1
	return &Setup{Job: b.cfg.Job, Step: 1, Key: b.seed, Data: data}, nil
}

// ReceiveSetup takes the partner's step 2 (its code key and OT choices)
// and returns step 3: the base-OT seeds, each encrypted under the key the
// partner's choice opens.
func (b *OPRFBank) ReceiveSetup(s *Setup) (*Setup, error) {
	switch {
	case s.Job != b.cfg.Job:
		return nil, fmt.Errorf("%w: %q", ErrWrongJob, s.Job)
	case s.Step != 2 || b.step != 1:
		return nil, fmt.Errorf("%w: setup step %d after step %d", ErrOutOfOrder, s.Step, b.step)
	case len(s.Data) != setupSize(2):
		return nil, fmt.Errorf("%w: setup step 2 of %d bytes", ErrMalformed, len(s.Data))
	}
	elems, err := decodeElements(s.Data, "partner's")
	if err != nil {
		return nil, err
	}
	code, err := newCoder(s.Key[:])
	if err != nil {
		return nil, err
	}
	data := make([]byte, setupSize(3))
	failed := make([]bool, codeBits)
	parallel(codeBits, b.cfg.Workers, 16, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			e0, e1 := b.senders[i].Round2Sender(elems[i])
			if len(e0) != otCipherSize || len(e1) != otCipherSize {
				failed[i] = true
				continue
			}
			copy(data[(2*i)*otCipherSize:], e0)
			copy(data[(2*i+1)*otCipherSize:], e1)
		}
	})
	if slices.Contains(failed, true) {
		return nil, fmt.Errorf("%w: ciphertext size", ErrBaseOT)
	}
	for k := range b.streams {
		b.streams[k] = make([]columnStream, codeBits)
		for i := range codeBits {
			if b.streams[k][i], err = newColumnStream(b.seeds[k][i][:]); err != nil {
				return nil, err
			}
		}
	}
	// The streams hold the seeds from now on; drop the copies.
	clear(b.seeds[0][:])
	clear(b.seeds[1][:])
	b.code, b.senders, b.step = code, nil, 3
	b.index = make(map[[TagSize]byte]uint32, len(b.hashes))
	b.matched = newBitset(int(b.bins))
	return &Setup{Job: b.cfg.Job, Step: 3, Data: data}, nil
}

// NextMatrix returns the next OPRFMatrix batch: for each bin j of the
// chunk, u_j = t_j ⊕ r_j ⊕ C(x_j), where t and r are the rows of the
// column streams of m0 and m1 and x_j the id in bin j (C = 0 for an empty
// bin). It keeps the bank's OPRF output H(j, t_j) of each occupied bin.
// io.EOF once every bin has been sent.
func (b *OPRFBank) NextMatrix() (*Batch, error) {
	if b.step != 3 {
		return nil, fmt.Errorf("%w: matrix before the base OTs", ErrOutOfOrder)
	}
	if b.nextBin == b.bins {
		return nil, io.EOF
	}
	lo := b.nextBin
	nb := int(min(b.chunk, b.bins-lo))
	for k := range b.cols {
		if b.cols[k] == nil {
			b.cols[k] = make([][]byte, codeBits)
			for i := range b.cols[k] {
				b.cols[k][i] = make([]byte, b.chunk/8)
			}
			b.rows[k] = make([]byte, b.chunk*codeBytes)
		}
	}
	parallel(2*codeBits, b.cfg.Workers, 32, func(_, l, h int) {
		for c := l; c < h; c++ {
			k, i := c/codeBits, c%codeBits
			b.streams[k][i].fill(b.cols[k][i][:nb/8], lo)
		}
	})
	blocks := nb / 64
	parallel(2*blocks, b.cfg.Workers, 16, func(_, l, h int) {
		for x := l; x < h; x++ {
			k, bb := x/blocks, x%blocks
			columnsToRows(b.cols[k], b.rows[k], bb, bb+1)
		}
	})
	out := make([]byte, nb*codeBytes)
	tags := make([]byte, nb*TagSize)
	parallel(nb, b.cfg.Workers, 512, func(_, l, h int) {
		var c [codeBytes]byte
		for j := l; j < h; j++ {
			bin := lo + uint64(j)
			t := b.rows[0][j*codeBytes : (j+1)*codeBytes]
			r := b.rows[1][j*codeBytes : (j+1)*codeBytes]
			slot := b.table.slot[bin]
			if slot == 0 {
				clear(c[:])
			} else {
				b.code.code(&c, &b.hashes[slot-1])
				tagOf(tags[j*TagSize:], uint32(bin), t)
			}
			xor3(out[j*codeBytes:(j+1)*codeBytes], t, r, c[:])
		}
	})
	for j := range nb {
		bin := lo + uint64(j)
		if b.table.slot[bin] != 0 {
			b.index[[TagSize]byte(tags[j*TagSize:(j+1)*TagSize])] = uint32(bin)
		}
	}
	b.nextBin += uint64(nb)
	if b.nextBin == b.bins {
		b.cols, b.rows = [2][][]byte{}, [2][]byte{}
	}
	return &Batch{Job: b.cfg.Job, Kind: OPRFMatrix, Offset: lo, Data: out}, nil
}

// ReceiveTags takes an OPRFTags batch and matches it: a partner tag at
// position pos of hash group g = pos / (partner's count) matches bin j if
// it equals the bank's output for j and the bank placed x_j with hash g.
func (b *OPRFBank) ReceiveTags(m *Batch) error {
	if m.Job != b.cfg.Job {
		return fmt.Errorf("%w: %q", ErrWrongJob, m.Job)
	}
	if m.Kind != OPRFTags {
		return fmt.Errorf("%w: %v batch, want %v", ErrOutOfOrder, m.Kind, OPRFTags)
	}
	if b.peer == nil || b.nextBin != b.bins {
		return fmt.Errorf("%w: tags before the matrix was sent", ErrOutOfOrder)
	}
	seq, err := framing(m, 3*b.peer.Count, uint64(b.peer.BatchSize))
	if err != nil {
		return err
	}
	if b.tagsGot.has(seq) {
		return fmt.Errorf("%w: tag batch at %d", ErrDuplicate, m.Offset)
	}
	n := b.peer.Count
	var found []match
	for i := range m.Len() {
		t := [TagSize]byte(m.Data[i*TagSize : (i+1)*TagSize])
		bin, ok := b.index[t]
		if !ok {
			continue
		}
		pos := m.Offset + uint64(i)
		if uint64(b.table.hashIdx[bin]) != pos/n {
			continue
		}
		if b.matched.has(int(bin)) {
			// Undo this batch's marks, so a refused batch leaves no trace.
			for _, f := range found {
				b.matched.clear(int(b.index[f.tag]))
			}
			return fmt.Errorf("%w: tag at %d repeats a match", ErrBadBatch, pos)
		}
		b.matched.set(int(bin))
		// The Result names the partner's id by k = pos mod n alone: the
		// group would tell the partner which hash the bank placed it by.
		found = append(found, match{tag: t, own: b.table.slot[bin] - 1, partnerAt: uint32(pos % n)})
	}
	b.matches = append(b.matches, found...)
	b.tagsGot.set(seq)
	b.tagsLeft--
	return nil
}

// Finish sorts the matches into the agreed order (by OPRF output) and
// returns the bank's intersection with the Result messages for the
// partner.
func (b *OPRFBank) Finish() (Intersection, []*Result, error) {
	if b.finished {
		return Intersection{}, nil, fmt.Errorf("%w: Finish called twice", ErrDuplicate)
	}
	if b.peer == nil || b.nextBin != b.bins || b.tagsLeft > 0 {
		return Intersection{}, nil, fmt.Errorf("%w: %d of %d bins sent, %d tag batches outstanding", ErrIncomplete, b.nextBin, b.bins, b.tagsLeft)
	}
	b.finished = true
	slices.SortFunc(b.matches, func(x, y match) int { return bytes.Compare(x.tag[:], y.tag[:]) })
	out := Intersection{Size: len(b.matches), Rows: make([]int, len(b.matches))}
	at := make([]uint32, len(b.matches))
	for i, m := range b.matches {
		out.Rows[i], at[i] = int(m.own), m.partnerAt
	}
	b.matches, b.index = nil, nil
	return out, results(b.cfg.Job, b.cfg.BankOnly, b.cfg.BatchSize, at), nil
}
