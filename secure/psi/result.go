package psi

import "fmt"

// resultSink is the partner's end of the Result chunks, for either
// protocol: it checks each chunk against the announced framing and maps
// the positions the bank names (indices into what the partner sent) to the
// partner's rows.
type resultSink struct {
	bankOnly   bool
	ownCount   uint64 // the partner's ids
	peerCount  uint64 // the bank's ids
	positions  uint64 // valid positions are [0, positions)
	rowOf      func(pos uint32) int
	result     []int  // rows in agreed order
	seen       bitset // rows already listed, to refuse repeats
	size, got  uint64
	haveResult bool
}

func (s *resultSink) done() bool {
	if !s.haveResult {
		return false
	}
	return s.bankOnly || s.size == 0 || s.got == s.size
}

// receive takes one chunk; ready says whether the exchange before it is
// over.
func (s *resultSink) receive(job string, r *Result, ready bool) error {
	switch {
	case r.Job != job:
		return fmt.Errorf("%w: %q", ErrWrongJob, r.Job)
	case !ready:
		return fmt.Errorf("%w: result before the exchange finished", ErrOutOfOrder)
	case s.done():
		return fmt.Errorf("%w: result after the last", ErrDuplicate)
	case r.Size > s.ownCount || r.Size > s.peerCount:
		return fmt.Errorf("%w: size %d exceeds a set size", ErrBadBatch, r.Size)
	case s.haveResult && r.Size != s.size:
		return fmt.Errorf("%w: size changed from %d to %d", ErrBadBatch, s.size, r.Size)
	case r.Offset != s.got:
		return fmt.Errorf("%w: result chunk at %d, want %d", ErrOutOfOrder, r.Offset, s.got)
	}
	if s.bankOnly || r.Size == 0 {
		if len(r.Positions) != 0 || r.Offset != 0 {
			return fmt.Errorf("%w: positions sent although the partner learns only the size", ErrBadBatch)
		}
		s.size, s.haveResult = r.Size, true
		return nil
	}
	if len(r.Positions) == 0 || uint64(len(r.Positions)) > r.Size-r.Offset {
		return fmt.Errorf("%w: %d positions at %d of %d", ErrBadBatch, len(r.Positions), r.Offset, r.Size)
	}
	if !s.haveResult {
		s.size, s.haveResult = r.Size, true
		s.seen = newBitset(int(s.ownCount))
		s.result = make([]int, 0, r.Size)
	}
	rows := make([]int, len(r.Positions))
	for i, pos := range r.Positions {
		if uint64(pos) >= s.positions || s.seen.has(s.rowOf(pos)) {
			for _, row := range rows[:i] {
				s.seen.clear(row)
			}
			return fmt.Errorf("%w: position %d out of range or repeated", ErrBadBatch, pos)
		}
		rows[i] = s.rowOf(pos)
		s.seen.set(rows[i])
	}
	s.result = append(s.result, rows...)
	s.got += uint64(len(r.Positions))
	return nil
}

func (s *resultSink) intersection() (Intersection, error) {
	if !s.done() {
		return Intersection{}, fmt.Errorf("%w: result incomplete", ErrIncomplete)
	}
	out := Intersection{Size: int(s.size)}
	if !s.bankOnly {
		out.Rows = append([]int{}, s.result...)
	}
	return out, nil
}

// results chunks the partner positions of the matches, already in agreed
// order, into Result messages: one per batchSize positions, or a single
// one with the size alone under bankOnly.
func results(job string, bankOnly bool, batchSize int, partnerAt []uint32) []*Result {
	size := uint64(len(partnerAt))
	if bankOnly || size == 0 {
		return []*Result{{Job: job, Size: size}}
	}
	var res []*Result
	for lo := 0; lo < len(partnerAt); lo += batchSize {
		hi := min(lo+batchSize, len(partnerAt))
		res = append(res, &Result{Job: job, Size: size, Offset: uint64(lo), Positions: partnerAt[lo:hi:hi]})
	}
	return res
}
