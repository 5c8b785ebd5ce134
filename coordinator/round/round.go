// Package round is the federated training protocol of one job as a pure,
// deterministic state machine, in the manner of etcd's raft: the runtime
// feeds it events (a participant joined, replied, left; a timer fired; the
// job was cancelled) with Step, asks what to do with Ready (tasks to send, a
// timer to arm, state to persist) and confirms with Advance. The machine
// owns no goroutine, network, disk or clock, so every dropout, timeout and
// stale reply is a table test.
//
// A job runs one statistics phase (federated standardisation), Rounds
// training phases and one final evaluation phase. Each phase sends a task to
// the cohort (the eligible participants connected when it starts), collects
// one contribution per member and closes when all have answered or failed,
// or when its timer fires. A phase with fewer than MinParticipants
// contributions is retried up to MaxAttempts times before the job fails.
package round

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fedscore/fedscore/coordinator/strategy"
	"github.com/fedscore/fedscore/features"
)

// Phase is where a job stands.
type Phase string

// Phases, in the order a job passes through them.
const (
	Waiting   Phase = "waiting" // for enough eligible participants to connect
	Stats     Phase = "stats"
	Train     Phase = "train"
	Eval      Phase = "eval"
	Succeeded Phase = "succeeded"
	Failed    Phase = "failed"
	Cancelled Phase = "cancelled"
)

// Terminal reports whether no more events can change the job.
func (p Phase) Terminal() bool { return p == Succeeded || p == Failed || p == Cancelled }

func (p Phase) collecting() bool { return p == Stats || p == Train || p == Eval }

// Errors returned by Step. They describe a refused event; the machine's
// state is unchanged by a refused event.
var (
	ErrStaleRound      = errors.New("round: stale round")
	ErrDuplicate       = errors.New("round: duplicate reply")
	ErrNotInCohort     = errors.New("round: participant not in this phase's cohort")
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
	Rounds          int
	Layout          Layout
	// PhaseTimeout is how long a phase waits for its cohort. The machine
	// does not measure it; it asks the runtime to arm a timer.
	PhaseTimeout time.Duration
	// MaxAttempts bounds how often a phase short of quorum is retried.
	MaxAttempts int
	Strategy    strategy.Strategy
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
	if c.Rounds < 1 {
		problems = append(problems, fmt.Sprintf("rounds %d < 1", c.Rounds))
	}
	if err := c.Layout.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if c.PhaseTimeout <= 0 {
		problems = append(problems, "phase timeout must be positive")
	}
	if c.MaxAttempts < 1 {
		problems = append(problems, fmt.Sprintf("max attempts %d < 1", c.MaxAttempts))
	}
	if c.Strategy == nil {
		problems = append(problems, "no strategy")
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
}

// Timeout says the timer armed for phase Seq fired.
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
	To     string
	Seq    uint64
	Round  int
	Kind   Phase
	Params []float64
	Scaler *features.Standardizer
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

// Record is the outcome of one training round.
type Record struct {
	Round        int
	Participants []string
	Dropped      []string
	Examples     float64
	TrainLoss    float64
	// Validation is of the global model this round produced; nil until the
	// next phase has measured it.
	Validation *Metrics
}

// Snapshot is the machine's durable state.
type Snapshot struct {
	Phase   Phase
	Resume  Phase // the phase a Waiting machine starts when quorum connects
	Round   int
	Seq     uint64
	Attempt int
	Params  []float64
	Scaler  *features.Standardizer
	History []Record
	Err     string
}

// Machine is the round protocol of one job.
type Machine struct {
	cfg       Config
	eligible  map[string]bool
	connected map[string]bool

	phase   Phase
	resume  Phase
	round   int
	seq     uint64
	attempt int
	params  []float64
	scaler  *features.Standardizer
	history []Record
	err     string

	cohort   []string
	answered map[string][]float64
	failed   map[string]string

	ready Ready
}

// New returns a machine for a job that has not started.
func New(c Config) (*Machine, error) {
	return Restore(c, Snapshot{Phase: Waiting, Resume: Stats, Params: make([]float64, c.Layout.Dim+1)})
}

// Restore returns a machine that carries on from a snapshot. A phase that
// was collecting when the snapshot was taken starts again from its
// beginning once quorum reconnects, so no half-finished phase is trusted.
func Restore(c Config, s Snapshot) (*Machine, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	if len(s.Params) != c.Layout.Dim+1 {
		return nil, fmt.Errorf("%w: snapshot has %d parameters, layout needs %d", ErrConfig, len(s.Params), c.Layout.Dim+1)
	}
	m := &Machine{
		cfg:       c,
		connected: map[string]bool{},
		phase:     s.Phase,
		resume:    s.Resume,
		round:     s.Round,
		seq:       s.Seq,
		attempt:   s.Attempt,
		params:    slices.Clone(s.Params),
		scaler:    s.Scaler,
		history:   slices.Clone(s.History),
		err:       s.Err,
	}
	if len(c.Eligible) > 0 {
		m.eligible = map[string]bool{}
		for _, p := range c.Eligible {
			m.eligible[p] = true
		}
	}
	if m.phase.collecting() {
		m.resume, m.phase = m.phase, Waiting
	}
	if m.phase == Waiting && !m.resume.collecting() {
		return nil, fmt.Errorf("%w: snapshot waits to resume %q", ErrConfig, m.resume)
	}
	return m, nil
}

// Step applies one event. An error means the event was refused and left the
// machine as it was; the runtime logs it.
func (m *Machine) Step(ev Event) error {
	switch ev := ev.(type) {
	case Join:
		return m.join(ev.Participant)
	case Leave:
		return m.leave(ev.Participant)
	case Reply:
		return m.reply(ev)
	case Timeout:
		if ev.Seq == m.seq && m.phase.collecting() {
			m.closePhase()
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
		m.startPhase(m.resume)
	}
	return nil
}

func (m *Machine) leave(p string) error {
	delete(m.connected, p)
	if m.phase.collecting() && slices.Contains(m.cohort, p) && m.answered[p] == nil && m.failed[p] == "" {
		m.failed[p] = "disconnected"
		m.maybeClose()
	}
	return nil
}

func (m *Machine) reply(r Reply) error {
	if m.phase.Terminal() {
		return fmt.Errorf("participant %s: %w (%s)", r.Participant, ErrFinished, m.phase)
	}
	if r.Seq != m.seq || !m.phase.collecting() {
		return fmt.Errorf("participant %s, seq %d (current %d): %w", r.Participant, r.Seq, m.seq, ErrStaleRound)
	}
	if !slices.Contains(m.cohort, r.Participant) {
		return fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, ErrNotInCohort)
	}
	if m.answered[r.Participant] != nil || m.failed[r.Participant] != "" {
		return fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, ErrDuplicate)
	}
	var refused error
	switch {
	case r.Err != "":
		m.failed[r.Participant] = r.Err
	default:
		if err := m.cfg.Layout.checkLen(m.phase, r.Vector); err != nil {
			// The participant's one reply for this phase is spent: it
			// counts as a failure, so a broken node cannot stall the phase.
			m.failed[r.Participant] = err.Error()
			refused = fmt.Errorf("participant %s, seq %d: %w", r.Participant, r.Seq, err)
		} else {
			m.answered[r.Participant] = slices.Clone(r.Vector)
		}
	}
	m.maybeClose()
	return refused
}

func (m *Machine) maybeClose() {
	if len(m.answered)+len(m.failed) == len(m.cohort) {
		m.closePhase()
	}
}

// startPhase sends phase p's task to every eligible connected participant,
// or waits when they are too few.
func (m *Machine) startPhase(p Phase) {
	cohort := make([]string, 0, len(m.connected))
	for id := range m.connected {
		cohort = append(cohort, id)
	}
	sort.Strings(cohort)
	m.ready.Persist = true
	if len(cohort) < m.cfg.MinParticipants {
		m.phase, m.resume, m.cohort = Waiting, p, nil
		return
	}
	m.phase, m.resume = p, ""
	m.seq++
	m.cohort = cohort
	m.answered = map[string][]float64{}
	m.failed = map[string]string{}
	for _, id := range cohort {
		m.ready.Tasks = append(m.ready.Tasks, Task{
			To: id, Seq: m.seq, Round: m.round, Kind: p,
			Params: slices.Clone(m.params), Scaler: m.scaler,
		})
	}
	m.ready.Timer = &Timer{Seq: m.seq, After: m.cfg.PhaseTimeout}
}

func (m *Machine) closePhase() {
	p := m.phase
	if len(m.answered) < m.cfg.MinParticipants {
		m.attempt++
		if m.attempt >= m.cfg.MaxAttempts {
			m.finish(Failed, fmt.Sprintf("%v: %s phase (round %d) had %d of %d required contributions after %d attempts; %s",
				ErrQuorum, p, m.round, len(m.answered), m.cfg.MinParticipants, m.attempt, m.failureSummary()))
			return
		}
		m.startPhase(p)
		return
	}
	sum := m.sum()
	m.attempt = 0
	var err error
	switch p {
	case Stats:
		err = m.closeStats(sum)
	case Train:
		err = m.closeTrain(sum)
	case Eval:
		err = m.closeEval(sum)
	}
	if err != nil {
		m.finish(Failed, fmt.Sprintf("%s phase (round %d): %v", p, m.round, err))
	}
}

func (m *Machine) closeStats(sum []float64) error {
	s, err := m.cfg.Layout.UnpackStats(sum)
	if err != nil {
		return err
	}
	if s.Positives <= 0 || s.Positives >= s.Moments.Count {
		return fmt.Errorf("the label has one class only across the cohort (%v positives of %v rows)", s.Positives, s.Moments.Count)
	}
	st, err := s.Moments.Standardizer()
	if err != nil {
		return err
	}
	m.scaler = &st
	m.round = 1
	m.startPhase(Train)
	return nil
}

func (m *Machine) closeTrain(sum []float64) error {
	t, err := m.cfg.Layout.UnpackTrain(sum)
	if err != nil {
		return err
	}
	next, err := m.cfg.Strategy.Aggregate(m.params, strategy.Aggregate{
		WeightedParams: t.WeightedParams, Weight: t.Weight, Contributors: len(m.answered),
	}, m.failures())
	if err != nil {
		return err
	}
	// The validation each participant measured was of the model it
	// received, which the previous round produced.
	if m.round > 1 && t.Validation.Examples > 0 {
		if met, err := t.Validation.Metrics(); err == nil {
			m.history[len(m.history)-1].Validation = &met
		}
	}
	rec := Record{Round: m.round, Participants: m.answeredIDs(), Dropped: m.failedIDs(), Examples: t.Examples}
	if t.Examples > 0 {
		rec.TrainLoss = t.LossSum / t.Examples
	}
	m.history = append(m.history, rec)
	m.params = next
	if m.round >= m.cfg.Rounds {
		m.startPhase(Eval)
		return nil
	}
	m.round++
	m.startPhase(Train)
	return nil
}

func (m *Machine) closeEval(sum []float64) error {
	v, err := m.cfg.Layout.UnpackEval(sum)
	if err != nil {
		return err
	}
	met, err := v.Metrics()
	if err != nil {
		return err
	}
	m.history[len(m.history)-1].Validation = &met
	m.finish(Succeeded, "")
	return nil
}

func (m *Machine) finish(p Phase, reason string) {
	m.phase, m.resume, m.err = p, "", reason
	m.cohort, m.answered, m.failed = nil, nil, nil
	m.ready.Persist = true
	m.ready.Timer = nil
	m.ready.Tasks = nil
	m.ready.Ended = m.connectedIDs()
}

// sum adds the contributions in participant order, so that the result does
// not depend on arrival order.
func (m *Machine) sum() []float64 {
	var out []float64
	for _, id := range m.answeredIDs() {
		v := m.answered[id]
		if out == nil {
			out = make([]float64, len(v))
		}
		for i, x := range v {
			out[i] += x
		}
	}
	return out
}

func (m *Machine) failures() []strategy.Failure {
	var fs []strategy.Failure
	for _, id := range m.failedIDs() {
		fs = append(fs, strategy.Failure{Participant: id, Reason: m.failed[id]})
	}
	return fs
}

func (m *Machine) failureSummary() string {
	var parts []string
	for _, id := range m.cohort {
		switch {
		case m.answered[id] != nil:
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

func (m *Machine) answeredIDs() []string { return sortedKeys(m.answered) }

// failedIDs lists cohort members that did not contribute: those that failed
// and those that never answered before the phase closed.
func (m *Machine) failedIDs() []string {
	var out []string
	for _, id := range m.cohort {
		if m.answered[id] == nil {
			out = append(out, id)
		}
	}
	return out
}

func (m *Machine) connectedIDs() []string { return sortedKeys(m.connected) }

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

// Snapshot returns the durable state.
func (m *Machine) Snapshot() Snapshot {
	return Snapshot{
		Phase: m.phase, Resume: m.resume, Round: m.round, Seq: m.seq, Attempt: m.attempt,
		Params: slices.Clone(m.params), Scaler: m.scaler, History: slices.Clone(m.history), Err: m.err,
	}
}

// Status is a read-only view for progress reports.
type Status struct {
	Phase    Phase
	Round    int
	Seq      uint64
	Cohort   []string
	Answered int
	Err      string
}

// Status reports where the job stands.
func (m *Machine) Status() Status {
	return Status{Phase: m.phase, Round: m.round, Seq: m.seq, Cohort: slices.Clone(m.cohort), Answered: len(m.answered) + len(m.failed), Err: m.err}
}
