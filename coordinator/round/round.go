// Package round is the federated protocol of one job as a pure,
// deterministic state machine, in the manner of etcd's raft: the runtime
// feeds it events (a participant joined, replied, left; a timer fired; the
// job was cancelled) with Step, asks what to do with Ready (tasks to send, a
// timer to arm, state to persist) and confirms with Advance. The machine
// owns no goroutine, network, disk or clock, so every dropout, timeout and
// stale reply is a table test.
//
// What a job computes is its Program: a sequence of collections, each of
// which asks every cohort member (the eligible participants connected when
// it starts) for a vector and hands the Program only their sum. A
// collection closes when all members have answered or failed, or when its
// timer fires. One with fewer than MinParticipants contributions is retried
// up to MaxAttempts times before the job fails.
package round

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Phase is where a job stands.
type Phase string

// Phases of the machine. While collecting, Status reports the collection's
// kind as well.
const (
	Waiting    Phase = "waiting" // for enough eligible participants to connect
	Collecting Phase = "collecting"
	Succeeded  Phase = "succeeded"
	Failed     Phase = "failed"
	Cancelled  Phase = "cancelled"
)

// Terminal reports whether no more events can change the job.
func (p Phase) Terminal() bool { return p == Succeeded || p == Failed || p == Cancelled }

// Errors returned by Step. They describe a refused event; a refused event
// leaves the machine's state as it was, except that a malformed reply spends
// the sender's one answer for the collection.
var (
	ErrStaleRound      = errors.New("round: stale round")
	ErrDuplicate       = errors.New("round: duplicate reply")
	ErrNotInCohort     = errors.New("round: participant not in this collection's cohort")
	ErrNotEligible     = errors.New("round: participant not eligible for this job")
	ErrBadContribution = errors.New("round: malformed contribution")
	ErrFinished        = errors.New("round: job already finished")
	ErrQuorum          = errors.New("round: quorum not reached")
	ErrConfig          = errors.New("round: invalid config")
)

// Config describes one job to the machine.
type Config struct {
	Job string
	// Eligible lists the participants that may take part; empty means any.
	Eligible        []string
	MinParticipants int
	// PhaseTimeout is how long a collection waits for its cohort. The
	// machine does not measure it; it asks the runtime to arm a timer.
	PhaseTimeout time.Duration
	// MaxAttempts bounds how often a collection short of quorum is retried.
	MaxAttempts int
	Program     Program
	// Secure, when set, masks every contribution (secure/secagg): the
	// machine, and so the coordinator, only ever holds the cohort's sum.
	Secure *SecureConfig
}

func (c Config) validate() error {
	var problems []string
	if c.Job == "" {
		problems = append(problems, "empty job id")
	}
	if c.MinParticipants < 1 {
		problems = append(problems, fmt.Sprintf("min participants %d < 1", c.MinParticipants))
	}
	if len(c.Eligible) > 0 && c.MinParticipants > len(c.Eligible) {
		problems = append(problems, fmt.Sprintf("min participants %d exceeds the %d eligible", c.MinParticipants, len(c.Eligible)))
	}
	if c.PhaseTimeout <= 0 {
		problems = append(problems, "phase timeout must be positive")
	}
	if c.MaxAttempts < 1 {
		problems = append(problems, fmt.Sprintf("max attempts %d < 1", c.MaxAttempts))
	}
	if c.Program == nil {
		problems = append(problems, "no program")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrConfig, strings.Join(problems, "; "))
	}
	return nil
}

// Event is an input to Step.
type Event interface{ event() }

// Join says a participant is connected and ready for tasks.
type Join struct{ Participant string }

// Leave says a participant's connection ended.
type Leave struct{ Participant string }

// Reply carries a participant's answer to the task with sequence Seq.
type Reply struct {
	Participant string
	Seq         uint64
	Vector      []float64
	// Err is the participant's reason for not doing the task.
	Err string
	// Step and Payload carry a secure collection's protocol message.
	Step    SecStep
	Payload []byte
}

// Timeout says the timer armed for collection Seq fired.
type Timeout struct{ Seq uint64 }

// Cancel ends the job at the user's request.
type Cancel struct{ Reason string }

func (Join) event()    {}
func (Leave) event()   {}
func (Reply) event()   {}
func (Timeout) event() {}
func (Cancel) event()  {}

// Task is a request the runtime must deliver to one participant.
type Task struct {
	To         string
	Seq        uint64
	Collection Collection
	// Secure is set for every step of a secure collection.
	Secure *SecureTask
}

// Timer asks the runtime to step Timeout{Seq} after the duration.
type Timer struct {
	Seq   uint64
	After time.Duration
}

// Ready is what the machine needs done since the last Advance.
type Ready struct {
	Tasks []Task
	Timer *Timer
	// Persist is set when the durable state (Snapshot) changed.
	Persist bool
	// Ended lists the participants to tell that the job is over.
	Ended []string
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool {
	return len(r.Tasks) == 0 && r.Timer == nil && !r.Persist && len(r.Ended) == 0
}

// Snapshot is the machine's durable state.
type Snapshot struct {
	Phase Phase
	// Current is the collection in progress, or the one a waiting machine
	// starts when quorum connects.
	Current *Collection
	Seq     uint64
	Attempt int
	Err     string
}

// Machine is the protocol of one job.
type Machine struct {
	cfg       Config
	eligible  map[string]bool
	connected map[string]bool

	phase   Phase
	current *Collection
	seq     uint64
	attempt int
	err     string

	cohort   []string
	answered map[string][]float64
	failed   map[string]string
	gathered map[string][]byte
	sec      *secState // the secure protocol of the current collection

	ready Ready
}

// New returns a machine for a job that has not started.
func New(c Config) (*Machine, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	first, err := c.Program.Start()
	if err != nil {
		return nil, fmt.Errorf("%w: program: %v", ErrConfig, err)
	}
	return Restore(c, Snapshot{Phase: Waiting, Current: &first})
}

// Restore returns a machine that carries on from a snapshot, with the
// program already restored by the caller. A collection that was in progress
// starts again from its beginning once quorum reconnects, so no
// half-finished collection is trusted.
func Restore(c Config, s Snapshot) (*Machine, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	m := &Machine{
		cfg: c, connected: map[string]bool{},
		phase: s.Phase, current: s.Current, seq: s.Seq, attempt: s.Attempt, err: s.Err,
	}
	if len(c.Eligible) > 0 {
		m.eligible = map[string]bool{}
		for _, p := range c.Eligible {
			m.eligible[p] = true
		}
	}
	if m.phase == Collecting {
		m.phase = Waiting
	}
	if m.phase == Waiting && m.current == nil {
		return nil, fmt.Errorf("%w: a waiting snapshot has no collection", ErrConfig)
	}
	if !m.phase.Terminal() && m.phase != Waiting {
		return nil, fmt.Errorf("%w: unknown phase %q", ErrConfig, m.phase)
	}
	return m, nil
}

// Step applies one event. An error means the event was refused; the
// runtime logs it.
func (m *Machine) Step(ev Event) error {
	switch ev := ev.(type) {
	case Join:
		return m.join(ev.Participant)
	case Leave:
		return m.leave(ev.Participant)
	case Reply:
		return m.reply(ev)
	case Timeout:
		if ev.Seq == m.seq && m.phase == Collecting {
			if m.sec != nil {
				m.advanceSecure()
			} else {
				m.closeCollection()
			}
		}
		return nil
	case Cancel:
		if m.phase.Terminal() {
			return fmt.Errorf("%w (%s)", ErrFinished, m.phase)
		}
		reason := ev.Reason
		if reason == "" {
			reason = "cancelled"
		}
		m.finish(Cancelled, reason)
		return nil
	}
	return fmt.Errorf("round: unknown event %T", ev)
}

func (m *Machine) join(p string) error {
	if m.eligible != nil && !m.eligible[p] {
		return fmt.Errorf("participant %s: %w", p, ErrNotEligible)
	}
	if m.phase.Terminal() {
		return fmt.Errorf("participant %s: %w (%s)", p, ErrFinished, m.phase)
	}
	m.connected[p] = true
	if m.phase == Waiting {
		m.start(*m.current)
	}
	return nil
}

func (m *Machine) leave(p string) error {
	delete(m.connected, p)
	if m.phase != Collecting || !slices.Contains(m.cohort, p) || m.answered[p] != nil || m.failed[p] != "" {
		return nil
	}
	if m.sec != nil {
		if slices.Contains(m.sec.expected, p) && !m.sec.replied[p] {
			m.failed[p] = "disconnected during " + m.sec.step.String()
			m.maybeAdvanceSecure()
		} else {
			// It answered this step; the protocol counts it as dropped
			// when it misses the next one.
			m.failed[p] = "disconnected after " + m.sec.step.String()
		}
		return nil
	}
	m.failed[p] = "disconnected"
	m.maybeClose()
	return nil
}

func (m *Machine) reply(r Reply) error {
	if m.phase.Terminal() {
		return fmt.Errorf("participant %s: %w (%s)", r.Participant, ErrFinished, m.phase)
	}
	if r.Seq != m.seq || m.phase != Collecting {
		return fmt.Errorf("participant %s, seq %d (current %d): %w", r.Participant, r.Seq, m.seq, ErrStaleRound)
	}
	if !slices.Contains(m.cohort, r.Participant) {
		return fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, ErrNotInCohort)
	}
	if m.sec != nil {
		return m.secureReply(r)
	}
	if r.Step != None {
		return fmt.Errorf("participant %s, seq %d: %s reply to a plain collection: %w", r.Participant, r.Seq, r.Step, ErrStaleRound)
	}
	if m.current.Gather {
		if r.Err != "" {
			m.failed[r.Participant] = r.Err
		} else {
			m.gathered[r.Participant] = slices.Clone(r.Payload)
			m.answered[r.Participant] = []float64{}
		}
		m.maybeClose()
		return nil
	}
	if m.answered[r.Participant] != nil || m.failed[r.Participant] != "" {
		return fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, ErrDuplicate)
	}
	var refused error
	if r.Err != "" {
		m.failed[r.Participant] = r.Err
	} else if err := m.check(r.Vector); err != nil {
		// The participant's one reply is spent: it counts as a failure, so
		// a broken node cannot stall the collection.
		m.failed[r.Participant] = err.Error()
		refused = fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, err)
	} else {
		m.answered[r.Participant] = slices.Clone(r.Vector)
	}
	m.maybeClose()
	return refused
}

func (m *Machine) check(v []float64) error {
	if _, err := m.current.Split(v); err != nil {
		return err
	}
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: %s contribution value %d is %v", ErrBadContribution, m.current.Kind, i, x)
		}
	}
	return nil
}

func (m *Machine) maybeClose() {
	if len(m.answered)+len(m.failed) == len(m.cohort) {
		m.closeCollection()
	}
}

// start sends collection c to every eligible connected participant, or
// waits when they are too few.
func (m *Machine) start(c Collection) {
	cohort := sortedKeys(m.connected)
	m.current = &c
	m.ready.Persist = true
	if len(cohort) < m.cfg.MinParticipants {
		m.phase, m.cohort = Waiting, nil
		return
	}
	m.phase = Collecting
	m.seq++
	m.cohort = cohort
	m.answered = map[string][]float64{}
	m.failed = map[string]string{}
	m.gathered = map[string][]byte{}
	m.sec = nil
	if m.cfg.Secure != nil && !c.Gather {
		if err := m.startSecure(c, cohort); err != nil {
			m.finish(Failed, fmt.Sprintf("%s (round %d): secure aggregation: %v", c.Kind, c.Round, err))
		}
		return
	}
	for _, id := range cohort {
		m.ready.Tasks = append(m.ready.Tasks, Task{To: id, Seq: m.seq, Collection: c})
	}
	m.ready.Timer = &Timer{Seq: m.seq, After: m.cfg.PhaseTimeout}
}

func (m *Machine) closeCollection() {
	c := *m.current
	if len(m.answered) < m.cfg.MinParticipants {
		m.quorumFailure(c, m.failureSummary())
		return
	}
	m.closeWith(c, m.sum(), sortedKeys(m.answered))
}

// quorumFailure retries collection c, or fails the job after MaxAttempts.
func (m *Machine) quorumFailure(c Collection, why string) {
	m.attempt++
	if m.attempt >= m.cfg.MaxAttempts {
		m.finish(Failed, fmt.Sprintf("%v: %s (round %d) failed after %d attempts; %s",
			ErrQuorum, c.Kind, c.Round, m.attempt, why))
		return
	}
	m.start(c)
}

// closeWith hands the program the sum of collection c over contributors.
func (m *Machine) closeWith(c Collection, sum []float64, contributors []string) {
	if len(contributors) < m.cfg.MinParticipants {
		m.quorumFailure(c, fmt.Sprintf("%d of %d required contributions; %s", len(contributors), m.cfg.MinParticipants, m.failureSummary()))
		return
	}
	var dropped []string
	for _, id := range m.cohort {
		if !slices.Contains(contributors, id) {
			dropped = append(dropped, id)
		}
	}
	m.attempt = 0
	var gathered [][]byte
	if c.Gather {
		for _, id := range contributors {
			gathered = append(gathered, m.gathered[id])
		}
		slices.SortFunc(gathered, bytes.Compare)
		sum = nil
	}
	next, err := m.cfg.Program.Close(c, Outcome{Sum: sum, Contributors: contributors, Dropped: dropped, Gathered: gathered})
	switch {
	case err != nil:
		m.finish(Failed, fmt.Sprintf("%s (round %d): %v", c.Kind, c.Round, err))
	case next == nil:
		m.finish(Succeeded, "")
	default:
		m.start(*next)
	}
}

func (m *Machine) finish(p Phase, reason string) {
	m.phase, m.err = p, reason
	m.cohort, m.answered, m.failed, m.gathered, m.sec = nil, nil, nil, nil, nil
	m.ready.Persist = true
	m.ready.Timer = nil
	m.ready.Tasks = nil
	m.ready.Ended = sortedKeys(m.connected)
}

// sum adds the contributions in participant order, so that the result does
// not depend on arrival order.
func (m *Machine) sum() []float64 {
	out := make([]float64, m.current.Len())
	for _, id := range sortedKeys(m.answered) {
		for i, x := range m.answered[id] {
			out[i] += x
		}
	}
	return out
}

func (m *Machine) failureSummary() string {
	var parts []string
	for _, id := range m.cohort {
		switch {
		case m.answered[id] != nil, m.sec != nil && m.sec.replied[id]:
		case m.failed[id] != "":
			parts = append(parts, id+": "+m.failed[id])
		default:
			parts = append(parts, id+": no reply before the timeout")
		}
	}
	if len(parts) == 0 {
		return "too few participants connected"
	}
	return strings.Join(parts, "; ")
}

func sortedKeys[V any](mp map[string]V) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// HasReady reports whether Ready has anything to do.
func (m *Machine) HasReady() bool { return !m.ready.Empty() }

// Ready returns what must be done since the last Advance.
func (m *Machine) Ready() Ready { return m.ready }

// Advance confirms that the runtime persisted and sent what Ready asked.
func (m *Machine) Advance(Ready) { m.ready = Ready{} }

// Snapshot returns the durable state of the machine (the program's is
// the program's own).
func (m *Machine) Snapshot() Snapshot {
	s := Snapshot{Phase: m.phase, Seq: m.seq, Attempt: m.attempt, Err: m.err}
	if m.current != nil && !m.phase.Terminal() {
		c := *m.current
		s.Current = &c
	}
	return s
}

// Status is a read-only view for progress reports.
type Status struct {
	Phase    Phase
	Kind     string // the collection's kind, while waiting or collecting
	Step     SecStep
	Round    int
	Seq      uint64
	Cohort   []string
	Answered int
	Err      string
}

// Status reports where the job stands.
func (m *Machine) Status() Status {
	s := Status{Phase: m.phase, Seq: m.seq, Cohort: slices.Clone(m.cohort), Answered: len(m.answered) + len(m.failed), Err: m.err}
	if m.sec != nil {
		s.Step = m.sec.step
		s.Answered = len(m.sec.replied) + len(m.failed)
	}
	if m.current != nil && !m.phase.Terminal() {
		s.Kind, s.Round = m.current.Kind, m.current.Round
	}
	return s
}
