package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/round"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// jobRun is the goroutine shell around one job's round machine. Only run
// touches the machine; everyone else posts events.
type jobRun struct {
	co     *Coordinator
	m      *round.Machine
	prog   round.Program
	log    *slog.Logger
	events chan round.Event
	done   chan struct{}
	timer  *time.Timer

	mu       sync.Mutex
	job      *fedscorepb.Job // what the API shows; updated after every step
	watchers map[chan *fedscorepb.Job]struct{}

	// for metrics: the step under way, and what was last counted
	stepStart  time.Time
	stepLabels []string
	rounds     int
	state      fedscorepb.JobState
}

// accepts reports whether a participant may take part in the job.
func (jr *jobRun) accepts(id string) bool {
	ps := jr.job.GetSpec().GetParticipants() // spec never changes after submit
	return len(ps) == 0 || slices.Contains(ps, id)
}

// post queues an event for the runner; it never blocks once the job ended.
func (jr *jobRun) post(ev round.Event) {
	switch e := ev.(type) {
	case round.Join:
		if !jr.accepts(e.Participant) {
			return
		}
	case round.Leave:
		if !jr.accepts(e.Participant) {
			return
		}
	}
	select {
	case jr.events <- ev:
	case <-jr.done:
	}
}

func (jr *jobRun) run() {
	defer jr.co.wg.Done()
	defer jr.finish()
	for {
		select {
		case ev := <-jr.events:
			if err := jr.m.Step(ev); err != nil {
				jr.logRefused(ev, err)
			}
			jr.apply()
			if jr.m.Status().Phase.Terminal() {
				return
			}
		case <-jr.co.ctx.Done():
			return
		}
	}
}

func (jr *jobRun) logRefused(ev round.Event, err error) {
	level := slog.LevelWarn
	if errors.Is(err, round.ErrStaleRound) {
		level = slog.LevelInfo // a slow node answering a closed phase is routine
	}
	jr.log.Log(jr.co.ctx, level, "event refused", "event", eventName(ev), "err", err)
	jr.co.metrics.refused.WithLabelValues("message").Inc()
	if r, ok := ev.(round.Reply); ok {
		jr.co.audit(audit.Record{Actor: r.Participant, Role: "participant", Action: "message.refused",
			Object: jr.job.GetId(), Outcome: "denied", Detail: err.Error()})
	}
}

func eventName(ev round.Event) string {
	switch ev.(type) {
	case round.Join:
		return "join"
	case round.Leave:
		return "leave"
	case round.Reply:
		return "reply"
	case round.Timeout:
		return "timeout"
	case round.Cancel:
		return "cancel"
	}
	return "unknown"
}

// apply carries out what the machine asked for: persist first, so that a
// task is never sent for a phase the store does not know about.
func (jr *jobRun) apply() {
	rd := jr.m.Ready()
	job := jr.update()
	if rd.Persist {
		if job.GetState() == fedscorepb.JobState_JOB_STATE_SUCCEEDED && job.GetModel() != nil {
			jr.register(job)
		} else if err := jr.co.cfg.Store.PutJob(job); err != nil {
			jr.log.Error("persist job", "err", err)
		}
	}
	jr.observe(rd, job)
	for _, t := range rd.Tasks {
		sess := jr.co.session(t.To)
		pt := taskToProto(job, t)
		jr.co.metrics.bytesOut.WithLabelValues(stepLabel(pt.GetSecaggStep())).Add(float64(8*len(pt.GetParams()) + len(pt.GetPlan()) + len(pt.GetSecagg())))
		msg := &fedscorepb.CoordinatorMessage{Body: &fedscorepb.CoordinatorMessage_Task{Task: pt}}
		if sess == nil || !sess.send(msg) {
			// Counted as a dropout by the machine; the post runs after this
			// step because the runner is the only reader of events.
			go jr.post(round.Leave{Participant: t.To})
		}
	}
	if rd.Timer != nil {
		if jr.timer != nil {
			jr.timer.Stop()
		}
		seq := rd.Timer.Seq
		jr.timer = time.AfterFunc(rd.Timer.After, func() { jr.post(round.Timeout{Seq: seq}) })
	}
	for _, id := range rd.Ended {
		if sess := jr.co.session(id); sess != nil {
			sess.send(&fedscorepb.CoordinatorMessage{Body: &fedscorepb.CoordinatorMessage_JobEnded{JobEnded: &fedscorepb.JobEnded{
				JobId: job.GetId(), State: job.GetState(), Reason: job.GetError(),
			}}})
		}
	}
	jr.m.Advance(rd)
	jr.publish(job)
	if rd.Persist {
		st := jr.m.Status()
		jr.log.Info("job progress", "phase", st.Phase, "round", st.Round, "cohort", len(st.Cohort))
	}
}

// update refreshes the API view of the job from the machine and program.
func (jr *jobRun) update() *fedscorepb.Job {
	st := jr.m.Status()
	snap := jr.m.Snapshot()
	progState, err := jr.prog.MarshalState()
	if err != nil {
		jr.log.Error("program state", "err", err)
	}
	now := timestamppb.New(jr.co.cfg.Now())

	jr.mu.Lock()
	defer jr.mu.Unlock()
	j := jr.job
	j.Phase = string(st.Phase)
	if st.Phase == round.Collecting {
		j.Phase = st.Kind
	}
	if !st.Phase.Terminal() {
		j.Round = uint32(st.Round)
	}
	j.Cohort = st.Cohort
	j.Answered = uint32(st.Answered)
	j.Error = st.Err
	switch st.Phase {
	case round.Waiting:
		if j.Started == nil {
			j.State = fedscorepb.JobState_JOB_STATE_WAITING
		}
	case round.Collecting:
		j.State = fedscorepb.JobState_JOB_STATE_RUNNING
		if j.Started == nil {
			j.Started = now
		}
	case round.Succeeded:
		j.State = fedscorepb.JobState_JOB_STATE_SUCCEEDED
	case round.Failed:
		j.State = fedscorepb.JobState_JOB_STATE_FAILED
	case round.Cancelled:
		j.State = fedscorepb.JobState_JOB_STATE_CANCELLED
	}
	if st.Phase.Terminal() && j.Ended == nil {
		j.Ended = now
	}
	j.Rounds = recordsToProto(jr.prog.History())
	j.Checkpoint = &fedscorepb.Checkpoint{
		Phase: string(snap.Phase), Seq: snap.Seq, Attempt: uint32(snap.Attempt),
		Current: collectionToProto(snap.Current), ProgramState: progState,
	}
	if st.Phase == round.Succeeded {
		if mp, ok := jr.prog.(interface {
			Model(string) *fedscorepb.Model
		}); ok {
			j.Model = mp.Model(j.GetId())
		}
	}
	return proto.Clone(j).(*fedscorepb.Job)
}

func (jr *jobRun) snapshot() *fedscorepb.Job {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	return proto.Clone(jr.job).(*fedscorepb.Job)
}

// watch returns a channel that always holds the latest view of the job, and
// is closed when the job ends.
func (jr *jobRun) watch() (<-chan *fedscorepb.Job, func()) {
	ch := make(chan *fedscorepb.Job, 1)
	jr.mu.Lock()
	ch <- proto.Clone(jr.job).(*fedscorepb.Job)
	select {
	case <-jr.done:
		close(ch)
	default:
		jr.watchers[ch] = struct{}{}
	}
	jr.mu.Unlock()
	return ch, func() {
		jr.mu.Lock()
		defer jr.mu.Unlock()
		if _, ok := jr.watchers[ch]; ok {
			delete(jr.watchers, ch)
			close(ch)
		}
	}
}

func (jr *jobRun) publish(j *fedscorepb.Job) {
	jr.mu.Lock()
	defer jr.mu.Unlock()
	for ch := range jr.watchers {
		// Latest wins: drop a stale view a slow watcher has not read.
		select {
		case <-ch:
		default:
		}
		ch <- j
	}
}

func (jr *jobRun) finish() {
	if jr.timer != nil {
		jr.timer.Stop()
	}
	jr.mu.Lock()
	close(jr.done)
	final := proto.Clone(jr.job).(*fedscorepb.Job)
	for ch := range jr.watchers {
		select {
		case <-ch:
		default:
		}
		ch <- final
		close(ch)
		delete(jr.watchers, ch)
	}
	jr.mu.Unlock()
	if terminal(final.GetState()) {
		jr.co.mu.Lock()
		delete(jr.co.jobs, final.GetId())
		jr.co.mu.Unlock()
		jr.log.Info("job ended", "state", final.GetState(), "err", final.GetError())
		jr.co.audit(audit.Record{Actor: "coordinator", Action: "job.end", Object: final.GetId(), Outcome: stateOutcome(final.GetState()), Detail: final.GetError()})
	}
}

func taskToProto(job *fedscorepb.Job, t round.Task) *fedscorepb.Task {
	pt := &fedscorepb.Task{
		JobId: job.GetId(), Seq: t.Seq, Round: uint32(t.Collection.Round), Kind: t.Collection.Kind,
		Spec: job.GetSpec(), Params: t.Collection.Params, Plan: t.Collection.Plan, Gather: t.Collection.Gather,
	}
	if s := t.Secure; s != nil {
		pt.SecaggStep = fedscorepb.SecAggStep(s.Step)
		pt.SecaggRound = s.Round
		pt.Cohort = s.Cohort
		pt.Secagg = s.Message
		if s.Step != round.Advertise {
			// Only the first step needs the collection's instructions.
			pt.Params, pt.Plan = nil, nil
		}
	}
	return pt
}

func collectionToProto(c *round.Collection) *fedscorepb.Collection {
	if c == nil {
		return nil
	}
	pc := &fedscorepb.Collection{Kind: c.Kind, Round: uint32(c.Round), Params: c.Params, Plan: c.Plan, Gather: c.Gather}
	for _, s := range c.Segments {
		pc.Segments = append(pc.Segments, &fedscorepb.Segment{Name: s.Name, Len: uint32(s.Len), Count: s.Count, Clip: s.Clip, FracBits: uint32(s.FracBits)})
	}
	return pc
}

func collectionFromProto(pc *fedscorepb.Collection) *round.Collection {
	if pc == nil {
		return nil
	}
	c := &round.Collection{Kind: pc.GetKind(), Round: int(pc.GetRound()), Params: pc.GetParams(), Plan: pc.GetPlan(), Gather: pc.GetGather()}
	for _, s := range pc.GetSegments() {
		c.Segments = append(c.Segments, round.Segment{Name: s.GetName(), Len: int(s.GetLen()), Count: s.GetCount(), Clip: s.GetClip(), FracBits: uint(s.GetFracBits())})
	}
	return c
}

func metricsToProto(m *round.Metrics) *fedscorepb.Metrics {
	if m == nil {
		return nil
	}
	return &fedscorepb.Metrics{Auc: m.AUC, Ks: m.KS, Logloss: m.LogLoss, Examples: uint64(m.Examples), Positives: uint64(m.Positives),
		Gini: m.Gini, Brier: m.Brier, Accuracy: m.Accuracy, MacroF1: m.MacroF1}
}

func recordsToProto(h []round.Record) []*fedscorepb.RoundMetrics {
	out := make([]*fedscorepb.RoundMetrics, len(h))
	for i, r := range h {
		out[i] = &fedscorepb.RoundMetrics{
			Round: uint32(r.Round), Participants: r.Participants, Dropped: r.Dropped,
			Examples: uint64(r.Examples), TrainLoss: r.TrainLoss, Validation: metricsToProto(r.Validation),
		}
	}
	return out
}

func snapshotFromProto(j *fedscorepb.Job) round.Snapshot {
	cp := j.GetCheckpoint()
	return round.Snapshot{
		Phase: round.Phase(cp.GetPhase()), Current: collectionFromProto(cp.GetCurrent()),
		Seq: cp.GetSeq(), Attempt: int(cp.GetAttempt()), Err: j.GetError(),
	}
}

func stateOutcome(s fedscorepb.JobState) string {
	if s == fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return "ok"
	}
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

// observe updates the job's metrics after a step of its machine.
func (jr *jobRun) observe(rd round.Ready, job *fedscorepb.Job) {
	m := jr.co.metrics
	now := time.Now()
	if len(rd.Tasks) > 0 || job.GetState() != fedscorepb.JobState_JOB_STATE_RUNNING {
		if jr.stepLabels != nil {
			m.stepSeconds.WithLabelValues(jr.stepLabels...).Observe(now.Sub(jr.stepStart).Seconds())
			jr.stepLabels = nil
		}
		if len(rd.Tasks) > 0 {
			t := rd.Tasks[0]
			step := round.None
			if t.Secure != nil {
				step = t.Secure.Step
			}
			if step == round.None || step == round.Advertise {
				m.collections.WithLabelValues(t.Collection.Kind, "started").Inc()
			}
			jr.stepStart, jr.stepLabels = now, []string{t.Collection.Kind, step.String()}
		}
	}
	if n := len(job.GetRounds()); n > jr.rounds {
		for _, r := range job.GetRounds()[jr.rounds:] {
			m.rounds.Inc()
			m.dropouts.WithLabelValues("train").Add(float64(len(r.GetDropped())))
		}
		jr.rounds = n
	}
	if s := job.GetState(); s != jr.state {
		if jr.state != fedscorepb.JobState_JOB_STATE_UNSPECIFIED {
			m.jobs.WithLabelValues(stateName(jr.state)).Dec()
		}
		m.jobs.WithLabelValues(stateName(s)).Inc()
		jr.state = s
	}
}

func stateName(s fedscorepb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

// register writes the finished job and its model version in one commit.
func (jr *jobRun) register(job *fedscorepb.Job) {
	var participants []string
	if n := len(job.GetRounds()); n > 0 {
		participants = job.GetRounds()[n-1].GetParticipants()
	}
	rm, err := jr.co.cfg.Store.CompleteJob(job, &fedscorepb.RegisteredModel{
		JobId: job.GetId(), Kind: job.GetModel().GetKind(), Model: job.GetModel(), Created: job.GetEnded(),
		Participants: participants, Spec: job.GetSpec(),
	})
	if err != nil {
		jr.log.Error("register model", "err", err)
		return
	}
	jr.log.Info("model registered", "version", rm.GetVersion(), "champion", rm.GetChampion())
	jr.co.audit(audit.Record{Actor: "coordinator", Action: "model.register", Object: rm.GetVersion(),
		Detail: fmt.Sprintf("job %s, kind %s, champion %v", job.GetId(), rm.GetKind(), rm.GetChampion())})
	if jr.co.cfg.OnRegister != nil {
		jr.co.cfg.OnRegister(rm)
	}
}
