package round

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/secure/secagg"
)

// SecStep is a step of the secure-aggregation protocol within one
// collection. Plain collections have one step, None.
type SecStep int

// Steps of a secure collection, in order (secure/secagg phases 0, 1, 2, 4;
// the consistency check waits for provisioned identity keys).
const (
	None SecStep = iota
	Advertise
	Share
	Mask
	Unmask
)

func (s SecStep) String() string {
	return [...]string{"plain", "advertise", "share", "mask", "unmask"}[s]
}

// SecureTask is the secure-aggregation part of a task.
type SecureTask struct {
	Step SecStep
	// Round is the protocol round: the seq of the collection's first step,
	// so that every attempt of every collection has fresh keys and masks.
	Round uint64
	// Cohort is U in protocol order (sent with Advertise).
	Cohort []string
	// Message is the coordinator's message for this step.
	Message []byte
}

// SecureConfig turns secure aggregation on for a job. The protocol's
// parameters are secagg's defaults (δ = 0.3, γ = 5%), on both sides: every
// parameter is bound into the keys, so the coordinator and participants
// must agree on them exactly.
type SecureConfig struct {
	// Workers lets the coordinator spread mask recovery over goroutines; it
	// changes no result.
	Workers int
}

type secState struct {
	server   *secagg.Server
	step     SecStep
	round    uint64
	index    map[string]uint32
	expected []string // members asked in this step
	replied  map[string]bool
}

func (m *Machine) startSecure(c Collection, cohort []string) error {
	lens := make([]int, len(c.Segments))
	for i, s := range c.Segments {
		lens[i] = s.Len
	}
	srv, err := secagg.NewServer(secagg.Params{
		Job: m.cfg.Job, Round: m.seq, Participants: cohort, VectorLens: lens, Workers: m.cfg.Secure.Workers,
	})
	if err != nil {
		return err
	}
	m.sec = &secState{server: srv, step: Advertise, round: m.seq, index: map[string]uint32{}, expected: cohort, replied: map[string]bool{}}
	for i, id := range cohort {
		m.sec.index[id] = uint32(i)
		m.ready.Tasks = append(m.ready.Tasks, Task{To: id, Seq: m.seq, Collection: c,
			Secure: &SecureTask{Step: Advertise, Round: m.seq, Cohort: cohort}})
	}
	m.ready.Timer = &Timer{Seq: m.seq, After: m.cfg.PhaseTimeout}
	return nil
}

func (m *Machine) secureReply(r Reply) error {
	s := m.sec
	if r.Step != s.step {
		return fmt.Errorf("participant %s, seq %d: %s reply during %s: %w", r.Participant, r.Seq, r.Step, s.step, ErrStaleRound)
	}
	if !slices.Contains(s.expected, r.Participant) {
		return fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, ErrNotInCohort)
	}
	if s.replied[r.Participant] || m.failed[r.Participant] != "" {
		return fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, ErrDuplicate)
	}
	var refused error
	if r.Err != "" {
		m.failed[r.Participant] = r.Err
	} else if err := s.server.ReceiveBytes(s.index[r.Participant], r.Payload); err != nil {
		// Whatever the message was, the sender's turn in this step is
		// spent; the protocol then treats it as dropped.
		m.failed[r.Participant] = fmt.Sprintf("refused %s message: %v", s.step, err)
		refused = fmt.Errorf("participant %s, seq %d: %w: %v", r.Participant, r.Seq, ErrBadContribution, err)
	} else {
		s.replied[r.Participant] = true
	}
	m.maybeAdvanceSecure()
	return refused
}

func (m *Machine) maybeAdvanceSecure() {
	for _, id := range m.sec.expected {
		if !m.sec.replied[id] && m.failed[id] == "" {
			return
		}
	}
	m.advanceSecure()
}

// advanceSecure closes the current step with whoever answered and sends the
// next step's messages.
func (m *Machine) advanceSecure() {
	s := m.sec
	c := *m.current
	var (
		to   []string
		msgs [][]byte
		err  error
	)
	switch s.step {
	case Advertise:
		var roster *secagg.Roster
		if roster, err = s.server.Roster(); err == nil {
			var b []byte
			if b, err = roster.MarshalBinary(); err == nil {
				for _, id := range s.expected {
					if s.replied[id] {
						to, msgs = append(to, id), append(msgs, b)
					}
				}
			}
		}
	case Share:
		var inboxes []*secagg.ShareInbox
		if inboxes, err = s.server.Inboxes(); err == nil {
			to, msgs, err = addressed(m.cohort, inboxes)
		}
	case Mask:
		var reqs []*secagg.UnmaskRequest
		if reqs, err = s.server.UnmaskRequests(); err == nil {
			to, msgs, err = addressed(m.cohort, reqs)
		}
	case Unmask:
		var sums [][]uint64
		if sums, err = s.server.Sum(); err == nil {
			survivors := s.server.Survivors()
			var sum []float64
			if sum, err = DecodeSegments(c.Segments, sums, len(survivors)); err == nil {
				contributors := make([]string, len(survivors))
				for i, u := range survivors {
					contributors[i] = m.cohort[u]
				}
				slices.Sort(contributors)
				m.sec = nil
				m.closeWith(c, sum, contributors)
				return
			}
		}
	}
	if err != nil {
		why := fmt.Sprintf("secure aggregation, %s step: %v; %s", s.step, err, m.failureSummary())
		m.sec = nil
		m.quorumFailure(c, why)
		return
	}
	s.step++
	s.expected = to
	s.replied = map[string]bool{}
	m.seq++
	for i, id := range to {
		m.ready.Tasks = append(m.ready.Tasks, Task{To: id, Seq: m.seq, Collection: c,
			Secure: &SecureTask{Step: s.step, Round: s.round, Message: msgs[i]}})
	}
	m.ready.Timer = &Timer{Seq: m.seq, After: m.cfg.PhaseTimeout}
}

// addressed encodes per-recipient messages and names their recipients.
func addressed[T interface {
	MarshalBinary() ([]byte, error)
	MessageHeader() secagg.Header
}](cohort []string, msgs []T) ([]string, [][]byte, error) {
	to := make([]string, 0, len(msgs))
	out := make([][]byte, 0, len(msgs))
	for _, msg := range msgs {
		u := msg.MessageHeader().To
		if int(u) >= len(cohort) {
			return nil, nil, fmt.Errorf("round: secure message for participant %d outside the cohort", u)
		}
		b, err := msg.MarshalBinary()
		if err != nil {
			return nil, nil, err
		}
		to, out = append(to, cohort[u]), append(out, b)
	}
	return to, out, nil
}

// EncodeSegments turns a contribution into the integer vectors that are
// masked, one per segment: counts exactly, reals in fixed point.
func EncodeSegments(segs []Segment, v []float64) ([][]uint64, error) {
	c := Collection{Segments: segs}
	parts, err := c.Split(v)
	if err != nil {
		return nil, err
	}
	out := make([][]uint64, len(segs))
	for i, s := range segs {
		if s.Count {
			ints := make([]int64, len(parts[i]))
			for j, x := range parts[i] {
				if x < 0 || x > 1<<53 || x != math.Trunc(x) {
					return nil, fmt.Errorf("%w: segment %s value %d is %v, not a count", ErrBadContribution, s.Name, j, x)
				}
				ints[j] = int64(x)
			}
			out[i] = secagg.EncodeInts(nil, ints)
			continue
		}
		fp := secagg.FixedPoint{Clip: s.Clip, FracBits: s.FracBits}
		if out[i], err = fp.Encode(nil, parts[i]); err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.Name, err)
		}
	}
	return out, nil
}

// DecodeSegments turns the unmasked sums of n contributions back into one
// summed contribution.
func DecodeSegments(segs []Segment, sums [][]uint64, n int) ([]float64, error) {
	if len(sums) != len(segs) {
		return nil, errors.New("round: secure sum has the wrong number of vectors")
	}
	var out []float64
	for i, s := range segs {
		if len(sums[i]) != s.Len {
			return nil, fmt.Errorf("round: secure sum of segment %s has %d values, want %d", s.Name, len(sums[i]), s.Len)
		}
		if s.Count {
			for _, x := range secagg.DecodeInts(nil, sums[i]) {
				out = append(out, float64(x))
			}
			continue
		}
		fp := secagg.FixedPoint{Clip: s.Clip, FracBits: s.FracBits}
		dec, err := fp.Decode(nil, sums[i], n)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", s.Name, err)
		}
		out = append(out, dec...)
	}
	return out, nil
}
