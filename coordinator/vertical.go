package coordinator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/helper"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// A vertical job (model "vertical") is not a round machine: the bank, the
// partner and the helper run secure/vertical's protocol among themselves,
// over the relay, in the session named by the job id. The coordinator
// admits the parties (only the job's identities, only while an attempt
// runs), starts each attempt once both data parties have joined and agreed
// on a checkpoint, follows progress, fails the job when a party drops, and
// registers the model when the bank reports its validation metrics. It
// never holds either half of the model.
//
// A running attempt is watched (vwatch.go): every party must open its
// relay stream within Config.VerticalJoinTimeout of the start, and the
// session must not go silent for Config.VerticalIdleTimeout; otherwise the
// attempt fails, naming the party, as if it had dropped.

// Names of a vertical job's model and of the in-process helper.
const (
	ModelVertical     = "vertical"
	HelperCoordinator = "coordinator"
)

// Phases a vertical job shows.
const (
	phaseWaitingParties = "waiting for parties"
	phaseTraining       = "training"
)

// scoreSession is the relay session in which a vertical job's model scores.
func scoreSession(job string) string { return job + "/score" }

// verticalRun is one vertical job's live state. Its job is the API view,
// persisted at every change of state and at most once a second for
// progress.
type verticalRun struct {
	co *Coordinator

	mu        sync.Mutex
	job       *fedscorepb.Job
	watchers  map[chan *fedscorepb.Job]struct{}
	att       *vattempt
	persisted time.Time
}

// vattempt is one attempt: the parties' joins, the agreed start and the
// parameters, and the signals the waiting parties watch.
type vattempt struct {
	n      uint32
	joins  map[string]*fedscorepb.VerticalJoinRequest
	ready  chan struct{} // closed when both data parties have joined
	ended  chan struct{} // closed when the attempt fails or is cancelled
	params []byte
	start  uint64
	bins   uint32             // the bin step's bins, 0 for none
	cancel context.CancelFunc // the in-process helper's, if any
	watch  *attemptWatch      // the relay session's activity, once started
	once   sync.Once
}

func newAttempt(n uint32) *vattempt {
	return &vattempt{n: n, joins: map[string]*fedscorepb.VerticalJoinRequest{}, ready: make(chan struct{}), ended: make(chan struct{})}
}

func (a *vattempt) end() {
	a.once.Do(func() {
		close(a.ended)
		if a.cancel != nil {
			a.cancel()
		}
	})
}

// vjob returns the run of vertical job id, loading it from the store the
// first time; nil if there is no such vertical job.
func (co *Coordinator) vjob(id string) *verticalRun {
	co.mu.Lock()
	vr := co.vjobs[id]
	co.mu.Unlock()
	if vr != nil {
		return vr
	}
	j, err := co.cfg.Store.GetJob(id)
	if err != nil || j.GetSpec().GetModel() != ModelVertical {
		return nil
	}
	co.mu.Lock()
	defer co.mu.Unlock()
	if vr := co.vjobs[id]; vr != nil {
		return vr
	}
	vr = co.newVerticalRun(j)
	co.vjobs[id] = vr
	return vr
}

func (co *Coordinator) newVerticalRun(j *fedscorepb.Job) *verticalRun {
	if j.Vertical == nil {
		j.Vertical = &fedscorepb.VerticalProgress{Attempt: 1}
	}
	return &verticalRun{co: co, job: j, watchers: map[chan *fedscorepb.Job]struct{}{}, att: newAttempt(j.GetVertical().GetAttempt())}
}

// resumeVertical is called at start-up for a vertical job the store holds
// unfinished. An attempt cannot survive the coordinator (the relay and the
// parties' streams went with it), so a running one fails, resumable; a
// waiting one keeps waiting for its parties to join again.
func (co *Coordinator) resumeVertical(j *fedscorepb.Job) {
	vr := co.newVerticalRun(j)
	co.mu.Lock()
	co.vjobs[j.GetId()] = vr
	co.mu.Unlock()
	if j.GetState() == fedscorepb.JobState_JOB_STATE_RUNNING {
		vr.fail("", fmt.Sprintf("the coordinator restarted during attempt %d; the parties keep their checkpoints: resume with `fedscore job resume %s`", j.GetVertical().GetAttempt(), j.GetId()))
	}
}

func (vr *verticalRun) snapshot() *fedscorepb.Job {
	vr.mu.Lock()
	defer vr.mu.Unlock()
	return proto.Clone(vr.job).(*fedscorepb.Job)
}

// changedLocked persists (always when force, else at most once a second)
// and tells the watchers. The caller holds vr.mu.
func (vr *verticalRun) changedLocked(force bool) {
	now := vr.co.cfg.Now()
	j := proto.Clone(vr.job).(*fedscorepb.Job)
	if force || now.Sub(vr.persisted) >= time.Second {
		if err := vr.co.cfg.Store.PutJob(j); err != nil {
			vr.co.log.Error("persist vertical job", "job", j.GetId(), "err", err)
		}
		vr.persisted = now
	}
	for ch := range vr.watchers {
		select { // latest wins
		case <-ch:
		default:
		}
		ch <- j
		if terminal(j.GetState()) {
			close(ch)
			delete(vr.watchers, ch)
		}
	}
}

// watch returns a channel that holds the latest view of the job and is
// closed once the job is in a terminal state.
func (vr *verticalRun) watch() (<-chan *fedscorepb.Job, func()) {
	ch := make(chan *fedscorepb.Job, 1)
	vr.mu.Lock()
	ch <- proto.Clone(vr.job).(*fedscorepb.Job)
	if terminal(vr.job.GetState()) {
		close(ch)
	} else {
		vr.watchers[ch] = struct{}{}
	}
	vr.mu.Unlock()
	return ch, func() {
		vr.mu.Lock()
		defer vr.mu.Unlock()
		if _, ok := vr.watchers[ch]; ok {
			delete(vr.watchers, ch)
			close(ch)
		}
	}
}

// fail ends the current attempt: the job fails with reason, the parties
// still in the session are told at once, and the job can be resumed.
func (vr *verticalRun) fail(party, reason string) {
	vr.failIf(func(*fedscorepb.Job) bool { return true }, party, reason)
}

// failAttempt is fail, if attempt n is the one running.
func (vr *verticalRun) failAttempt(n uint32, party, reason string) bool {
	return vr.failIf(func(j *fedscorepb.Job) bool {
		return j.GetState() == fedscorepb.JobState_JOB_STATE_RUNNING && j.GetVertical().GetAttempt() == n
	}, party, reason)
}

func (vr *verticalRun) failIf(ok func(*fedscorepb.Job) bool, party, reason string) bool {
	vr.mu.Lock()
	if terminal(vr.job.GetState()) || !ok(vr.job) {
		vr.mu.Unlock()
		return false
	}
	vr.endLocked(fedscorepb.JobState_JOB_STATE_FAILED, reason)
	vr.job.Vertical.FailedParty = party
	id, key := vr.job.GetId(), relayKey(vr.job.GetId(), vr.att.n)
	vr.changedLocked(true)
	vr.mu.Unlock()
	vr.co.relay.abort(key, reason)
	vr.co.log.Warn("vertical job failed", "job", id, "party", party, "reason", reason)
	vr.co.audit(audit.Record{Actor: "coordinator", Action: "job.end", Object: id, Outcome: "failed", Detail: reason})
	return true
}

func (vr *verticalRun) endLocked(state fedscorepb.JobState, reason string) {
	vr.job.State = state
	vr.job.Phase = stateName(state)
	vr.job.Error = reason
	vr.job.Ended = timestamppb.New(vr.co.cfg.Now())
	vr.att.end()
}

// checkVerticalSpec fills a vertical spec's defaults and refuses what
// cannot run, with a gRPC status: InvalidArgument for a malformed spec,
// PermissionDenied for parties the trust model or the CA does not allow.
func (co *Coordinator) checkVerticalSpec(in *fedscorepb.JobSpec) (*fedscorepb.JobSpec, error) {
	s := proto.Clone(in).(*fedscorepb.JobSpec)
	v := s.GetVertical()
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if v == nil {
		return nil, status.Error(codes.InvalidArgument, "coordinator: a vertical job needs its vertical spec (bank, partner, helper, columns)")
	}
	if s.GetLabel() == "" {
		bad("the bank's label column is required")
	}
	if len(v.GetBankFeatures()) == 0 || len(v.GetPartnerFeatures()) == 0 {
		bad("the bank and the partner each need at least one feature column")
	}
	if s.ValidationFraction == 0 {
		s.ValidationFraction = program.DefaultValidationFraction
	}
	if !(s.ValidationFraction > 0 && s.ValidationFraction <= 0.5) {
		bad("validation fraction %v outside (0, 0.5]", s.ValidationFraction)
	}
	switch v.GetModel() {
	case "":
		s.Vertical.Model = program.VerticalScorecard
	case program.VerticalScorecard, program.VerticalLogistic:
	default:
		bad("vertical model %q: want %s or %s", v.GetModel(), program.VerticalScorecard, program.VerticalLogistic)
	}
	if len(v.GetParams()) > 0 {
		var p vertical.Params
		if err := json.Unmarshal(v.GetParams(), &p); err != nil {
			bad("params: %v", err)
		}
	}
	if s.Tiers == 0 {
		s.Tiers = 5
	}
	if s.Reasons == 0 {
		s.Reasons = 3
	}
	if len(problems) > 0 {
		return nil, status.Errorf(codes.InvalidArgument, "%v: %s", program.ErrInvalidSpec, strings.Join(problems, "; "))
	}
	if err := vertical.CheckIdentities(v.GetBank(), v.GetPartner(), v.GetHelper()); err != nil {
		code := codes.InvalidArgument
		if errors.Is(err, vertical.ErrSameIdentity) {
			code = codes.PermissionDenied // the trust model, not a typo
		}
		return nil, status.Errorf(code, "coordinator: vertical job: %v", err)
	}
	if co.cfg.Insecure {
		return s, nil // nobody is authenticated, so nobody can be checked
	}
	if co.cfg.Identities == nil {
		return nil, status.Error(codes.FailedPrecondition, "coordinator: vertical job: the coordinator has no directory of provisioned identities to check the parties against (start it with --kits)")
	}
	want := []struct {
		name string
		role pki.Role
	}{{v.GetBank(), pki.Participant}, {v.GetPartner(), pki.Participant}}
	if v.GetHelper() != HelperCoordinator {
		want = append(want, struct {
			name string
			role pki.Role
		}{v.GetHelper(), pki.Helper})
	}
	for _, w := range want {
		role, ok := co.cfg.Identities(w.name)
		switch {
		case !ok:
			return nil, status.Errorf(codes.PermissionDenied, "%v: %q is not a provisioned identity", ErrDenied, w.name)
		case role != w.role:
			return nil, status.Errorf(codes.PermissionDenied, "%v: %q is provisioned as %s, a vertical job needs a %s", ErrDenied, w.name, role, w.role)
		case co.IsRevoked(w.name):
			return nil, status.Errorf(codes.PermissionDenied, "%v: %q is revoked", ErrDenied, w.name)
		}
	}
	return s, nil
}

// submitVertical is SubmitJob for a vertical job.
func (co *Coordinator) submitVertical(ctx context.Context, spec *fedscorepb.JobSpec) (*fedscorepb.Job, error) {
	who, _ := IdentityFrom(ctx)
	spec, err := co.checkVerticalSpec(spec)
	if err != nil {
		co.metrics.refused.WithLabelValues("vertical_spec").Inc()
		co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "job.refused", Outcome: "denied", Detail: err.Error()})
		co.log.Warn("vertical job refused", "by", who.Name, "err", err)
		return nil, err
	}
	v := spec.GetVertical()
	job := &fedscorepb.Job{
		Id: newJobID(co.cfg.Now()), Spec: spec, State: fedscorepb.JobState_JOB_STATE_WAITING, Phase: phaseWaitingParties,
		Created: timestamppb.New(co.cfg.Now()), SubmittedBy: who.Name,
		Vertical: &fedscorepb.VerticalProgress{Attempt: 1},
	}
	if err := co.cfg.Store.PutJob(job); err != nil {
		return nil, status.Errorf(codes.Internal, "coordinator: persist job: %v", err)
	}
	co.mu.Lock()
	co.vjobs[job.GetId()] = co.newVerticalRun(proto.Clone(job).(*fedscorepb.Job))
	co.mu.Unlock()
	co.log.Info("vertical job submitted", "job", job.GetId(), "bank", v.GetBank(), "partner", v.GetPartner(), "helper", v.GetHelper(), "by", who.Name)
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "job.submit", Object: job.GetId(),
		Detail: fmt.Sprintf("model vertical, bank %s (%d columns), partner %s (%d columns), helper %s", v.GetBank(), len(v.GetBankFeatures()), v.GetPartner(), len(v.GetPartnerFeatures()), v.GetHelper())})
	return job, nil
}

// partyOf names the caller's role in a vertical job, refusing (audited)
// anyone the job does not list.
func (co *Coordinator) partyOf(ctx context.Context, j *fedscorepb.Job, claimed, method string) (string, vertical.Role, error) {
	who, _ := IdentityFrom(ctx)
	name := who.Name
	if co.cfg.Insecure && claimed != "" {
		name = claimed
	}
	v := j.GetSpec().GetVertical()
	switch {
	case name == v.GetBank():
		return name, vertical.RoleBank, nil
	case name == v.GetPartner():
		return name, vertical.RolePartner, nil
	case name == v.GetHelper() && name != HelperCoordinator:
		return name, vertical.RoleHelper, nil
	}
	err := fmt.Errorf("%w: %s is not a party of vertical job %s", ErrDenied, who, j.GetId())
	co.guard.deny(who, method, err)
	return name, 0, status.Error(codes.PermissionDenied, err.Error())
}

// admitRelay lets only a vertical job's parties into its sessions: the
// training session (the job id) while an attempt runs, the scoring session
// once the job has succeeded. It returns the relay's key of the session
// joined, with the attempt and its watch for a training session; other
// sessions (fedscore psi, bare fedscore vertical) are not restricted.
func (co *Coordinator) admitRelay(session, me string, who pki.Identity) (relayAdmission, error) {
	id, scoring := strings.CutSuffix(session, "/score")
	vr := co.vjob(id)
	if vr == nil {
		return relayAdmission{key: session}, nil
	}
	vr.mu.Lock()
	j := proto.Clone(vr.job).(*fedscorepb.Job)
	att := vr.att
	vr.mu.Unlock()
	v := j.GetSpec().GetVertical()
	allowed := me == v.GetBank() || me == v.GetPartner() || (!scoring && me == v.GetHelper() && me != HelperCoordinator)
	if !allowed {
		err := fmt.Errorf("%w: %s may not join the relay session of vertical job %s", ErrDenied, who, id)
		co.guard.deny(who, "/fedscore.v1.Relay/Exchange", err)
		return relayAdmission{}, status.Error(codes.PermissionDenied, err.Error())
	}
	switch {
	case scoring && j.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED:
		return relayAdmission{}, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s has no model to score with (state %s)", id, stateName(j.GetState()))
	case scoring:
		return relayAdmission{key: session}, nil
	case j.GetState() != fedscorepb.JobState_JOB_STATE_RUNNING:
		return relayAdmission{}, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s is %s, not running: join it first (and resume a failed one)", id, stateName(j.GetState()))
	}
	return relayAdmission{key: relayKey(id, att.n), attempt: att.n, watch: att.watch}, nil
}

// relayLeft hears that a party left a relay session: cleanly (err nil,
// it closed its side) or not. A party that drops out of a running
// attempt fails the job.
func (co *Coordinator) relayLeft(session, party string, attempt uint32, err error) {
	if err == nil || strings.HasSuffix(session, "/score") {
		return
	}
	vr := co.vjob(session)
	if vr == nil {
		return
	}
	vr.mu.Lock()
	current := vr.job.GetState() == fedscorepb.JobState_JOB_STATE_RUNNING && vr.job.GetVertical().GetAttempt() == attempt
	it := vr.job.GetVertical().GetIteration()
	vr.mu.Unlock()
	if !current {
		return // a straggler of an attempt that already ended
	}
	vr.failAttempt(attempt, party, fmt.Sprintf("%s dropped out of the relay session after iteration %d, the last the bank reported (%v); the parties keep their checkpoints: resume with `fedscore job resume %s`", party, it, err, session))
}

// Join implements fedscoregrpc.VerticalServer.
func (co *Coordinator) Join(ctx context.Context, req *fedscorepb.VerticalJoinRequest) (*fedscorepb.VerticalJoinResponse, error) {
	vr := co.vjob(req.GetJobId())
	if vr == nil {
		return nil, status.Errorf(codes.NotFound, "coordinator: no vertical job %q", req.GetJobId())
	}
	j := vr.snapshot()
	name, role, err := co.partyOf(ctx, j, req.GetParty(), "/fedscore.v1.Vertical/Join")
	if err != nil {
		return nil, err
	}
	if req.GetScoring() {
		return co.joinScoring(j, name, role)
	}
	if req.GetPrepare() {
		// The spec only (the parties' columns, the label, the validation
		// fraction): what a party needs before it can give its bins.
		return &fedscorepb.VerticalJoinResponse{Job: j}, nil
	}
	return vr.join(ctx, name, role, req)
}

func (co *Coordinator) joinScoring(j *fedscorepb.Job, name string, role vertical.Role) (*fedscorepb.VerticalJoinResponse, error) {
	if role == vertical.RoleHelper {
		return nil, status.Errorf(codes.PermissionDenied, "%v: the helper takes no part in scoring", ErrDenied)
	}
	if j.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s has no model to score with (state %s)", j.GetId(), stateName(j.GetState()))
	}
	ms, _, err := co.cfg.Store.Models()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	for _, m := range ms {
		if m.GetJobId() == j.GetId() {
			if co.cfg.OnRegister != nil {
				co.cfg.OnRegister(m) // the score store must know the version
			}
			co.audit(audit.Record{Actor: name, Role: string(pki.Participant), Action: "vertical.score", Object: j.GetId(), Detail: m.GetVersion()})
			return &fedscorepb.VerticalJoinResponse{Job: j, Params: m.GetVertical().GetParams(), Session: scoreSession(j.GetId()), ModelVersion: m.GetVersion()}, nil
		}
	}
	return nil, status.Errorf(codes.NotFound, "coordinator: vertical job %s registered no model", j.GetId())
}

// join records a party's join of the current attempt and waits for the
// attempt to start.
func (vr *verticalRun) join(ctx context.Context, name string, role vertical.Role, req *fedscorepb.VerticalJoinRequest) (*fedscorepb.VerticalJoinResponse, error) {
	vr.mu.Lock()
	j := vr.job
	att := vr.att
	switch j.GetState() {
	case fedscorepb.JobState_JOB_STATE_WAITING:
	case fedscorepb.JobState_JOB_STATE_RUNNING:
		if role != vertical.RoleHelper || att.joins[name] != nil {
			vr.mu.Unlock()
			return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s: attempt %d is already running with %s", j.GetId(), att.n, name)
		}
	case fedscorepb.JobState_JOB_STATE_FAILED:
		vr.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s failed (%s); resume it with `fedscore job resume %s`, then join again", j.GetId(), j.GetError(), j.GetId())
	default:
		vr.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s is %s", j.GetId(), stateName(j.GetState()))
	}
	att.joins[name] = proto.Clone(req).(*fedscorepb.VerticalJoinRequest)
	if !slices.Contains(j.Vertical.Joined, name) {
		j.Vertical.Joined = append(j.Vertical.Joined, name)
	}
	v := j.GetSpec().GetVertical()
	if j.GetState() == fedscorepb.JobState_JOB_STATE_WAITING && att.joins[v.GetBank()] != nil && att.joins[v.GetPartner()] != nil {
		if err := vr.startLocked(); err != nil {
			reason := err.Error()
			vr.mu.Unlock()
			vr.fail("", reason)
			return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s: %s", j.GetId(), reason)
		}
	}
	vr.changedLocked(true)
	vr.mu.Unlock()
	vr.co.audit(audit.Record{Actor: name, Role: role.String(), Action: "vertical.join", Object: j.GetId(), Detail: fmt.Sprintf("attempt %d, checkpoints %v", att.n, req.GetCheckpoints())})

	select {
	case <-att.ready:
	case <-att.ended:
		return nil, status.Errorf(codes.Aborted, "coordinator: vertical job %s: attempt %d ended: %s", j.GetId(), att.n, vr.snapshot().GetError())
	case <-ctx.Done():
		vr.mu.Lock()
		if vr.att == att && vr.job.GetState() == fedscorepb.JobState_JOB_STATE_WAITING {
			delete(att.joins, name)
			vr.job.Vertical.Joined = slices.DeleteFunc(vr.job.Vertical.Joined, func(s string) bool { return s == name })
			vr.changedLocked(true)
		}
		vr.mu.Unlock()
		return nil, ctx.Err()
	}
	return &fedscorepb.VerticalJoinResponse{Job: vr.snapshot(), Params: att.params, Start: att.start, Session: j.GetId(), Bins: att.bins}, nil
}

// startLocked starts the attempt once both data parties have joined: their
// tables must have the same rows, the parameters must be valid for them,
// and the attempt starts at the last iteration both hold a checkpoint of
// (0 when they hold none in common).
func (vr *verticalRun) startLocked() error {
	j, att := vr.job, vr.att
	v := j.GetSpec().GetVertical()
	b, p := att.joins[v.GetBank()], att.joins[v.GetPartner()]
	if b.GetRows() != p.GetRows() {
		return fmt.Errorf("the aligned tables differ: the bank has %d rows, the partner %d (align them with fedscore psi first)", b.GetRows(), p.GetRows())
	}
	_, train := program.VerticalSplitSizes(int(b.GetRows()), j.GetSpec().GetValidationFraction())
	var params vertical.Params
	if len(v.GetParams()) > 0 {
		if err := json.Unmarshal(v.GetParams(), &params); err != nil {
			return fmt.Errorf("params: %w", err)
		}
	}
	params.Job = j.GetId()
	params.Rows = train
	params.BankFeatures = len(v.GetBankFeatures())
	params.PartnerFeatures = len(v.GetPartnerFeatures())
	// NewHelper validates the parameters as every party will.
	if _, err := vertical.NewHelper(vertical.HelperConfig{Params: params}); err != nil {
		return err
	}
	pb, err := json.Marshal(params)
	if err != nil {
		return err
	}
	var start uint64
	for _, it := range b.GetCheckpoints() {
		if it > start && slices.Contains(p.GetCheckpoints(), it) {
			start = it
		}
	}
	// A scorecard starts with the partner's bin counts unless both sides
	// kept their fitted binning from an earlier attempt; training
	// checkpoints only mean something with the bins they were trained on,
	// so an attempt that bins again trains from the start.
	var bins uint32
	if program.VerticalModel(v) == program.VerticalScorecard && !(b.GetBinned() && p.GetBinned()) {
		bins = p.GetBins()
		if bins == 0 {
			return errors.New("the partner gave no bins for the scorecard's bin counts")
		}
		if _, err := vertical.NewBinHelper(vertical.BinParams{Job: params.Job, Rows: params.Rows, Bins: int(bins)}, nil, 1); err != nil {
			return fmt.Errorf("the partner's bins: %w", err)
		}
		start = 0
	}
	att.params, att.start, att.bins = pb, start, bins
	j.State = fedscorepb.JobState_JOB_STATE_RUNNING
	j.Phase = phaseTraining
	if j.Started == nil {
		j.Started = timestamppb.New(vr.co.cfg.Now())
	}
	j.Vertical.Start, j.Vertical.Iteration = start, start
	j.Vertical.Iterations = params.Iterations()
	j.Vertical.Rows = uint64(train)
	j.Round = uint32(start)
	// From now on every party must reach the relay session, and keep it
	// moving, or the watchdog fails the attempt.
	att.watch = newAttemptWatch(time.Now(), v.GetBank(), v.GetPartner(), v.GetHelper())
	vr.co.wg.Add(1)
	go vr.watchdog(att)
	close(att.ready)
	if v.GetHelper() == HelperCoordinator {
		vr.startHelper(att, params)
	}
	vr.co.log.Info("vertical attempt started", "job", j.GetId(), "attempt", att.n, "start", start, "iterations", j.Vertical.Iterations, "bins", bins)
	return nil
}

// startHelper runs the helper inside the coordinator for this attempt.
func (vr *verticalRun) startHelper(att *vattempt, params vertical.Params) {
	co := vr.co
	ctx, cancel := context.WithCancel(co.ctx)
	att.cancel = cancel
	v := vr.job.GetSpec().GetVertical()
	cfg := helper.Config{Session: vr.job.GetId(), Self: HelperCoordinator, Bank: v.GetBank(), Partner: v.GetPartner(), Params: params, Start: att.start, Bins: int(att.bins)}
	co.wg.Add(1)
	go func() {
		defer co.wg.Done()
		defer cancel()
		ls, err := co.localRelay(ctx, cfg.Session, HelperCoordinator, relayAdmission{key: relayKey(cfg.Session, att.n), attempt: att.n, watch: att.watch})
		if err != nil {
			vr.fail(HelperCoordinator, fmt.Sprintf("the coordinator's helper could not join the session: %v", err))
			return
		}
		n, err := helper.Run(ctx, ls, cfg)
		if err != nil {
			ls.fail(err)
			return
		}
		co.log.Info("in-process helper done", "job", cfg.Session, "dealt", n)
	}()
}

// Report implements fedscoregrpc.VerticalServer.
func (co *Coordinator) Report(ctx context.Context, req *fedscorepb.VerticalReport) (*fedscorepb.VerticalReportResponse, error) {
	vr := co.vjob(req.GetJobId())
	if vr == nil {
		return nil, status.Errorf(codes.NotFound, "coordinator: no vertical job %q", req.GetJobId())
	}
	name, role, err := co.partyOf(ctx, vr.snapshot(), req.GetParty(), "/fedscore.v1.Vertical/Report")
	if err != nil {
		return nil, err
	}
	if req.GetError() != "" {
		vr.fail(name, fmt.Sprintf("%s stopped: %s", name, req.GetError()))
		return &fedscorepb.VerticalReportResponse{}, nil
	}
	vr.mu.Lock()
	j := vr.job
	if j.GetState() != fedscorepb.JobState_JOB_STATE_RUNNING {
		vr.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s is %s", j.GetId(), stateName(j.GetState()))
	}
	vr.att.watch.touch()
	if it := req.GetIteration(); it > j.Vertical.Iteration && it <= j.Vertical.Iterations {
		j.Vertical.Iteration = it
		j.Round = uint32(it)
	}
	if !req.GetDone() {
		vr.changedLocked(false)
		vr.mu.Unlock()
		return &fedscorepb.VerticalReportResponse{}, nil
	}
	if !slices.Contains(j.Vertical.Done, name) {
		j.Vertical.Done = append(j.Vertical.Done, name)
	}
	switch role {
	case vertical.RolePartner:
		j.Vertical.PartnerModel = name + ":" + req.GetModelLocation()
	case vertical.RoleBank:
		j.Vertical.BankModel = name + ":" + req.GetModelLocation()
	}
	if role != vertical.RoleBank {
		vr.changedLocked(true)
		vr.mu.Unlock()
		return &fedscorepb.VerticalReportResponse{}, nil
	}
	// The bank reports done only after the partner's validation scores
	// reached it, which the partner sends after its own done report: the
	// model is whole.
	rm, err := vr.completeLocked(req)
	vr.mu.Unlock()
	if err != nil {
		return nil, status.Errorf(codes.Internal, "coordinator: register the vertical model: %v", err)
	}
	co.log.Info("vertical model registered", "job", j.GetId(), "version", rm.GetVersion(), "auc", req.GetValidation().GetAuc())
	co.audit(audit.Record{Actor: "coordinator", Action: "model.register", Object: rm.GetVersion(),
		Detail: fmt.Sprintf("job %s, kind vertical, champion %v, halves at %s and %s", j.GetId(), rm.GetChampion(), rm.GetVertical().GetBankModel(), rm.GetVertical().GetPartnerModel())})
	co.audit(audit.Record{Actor: "coordinator", Action: "job.end", Object: j.GetId(), Outcome: "ok"})
	if co.cfg.OnRegister != nil {
		co.cfg.OnRegister(rm)
	}
	return &fedscorepb.VerticalReportResponse{ModelVersion: rm.GetVersion()}, nil
}

// completeLocked ends the job and registers its model version in one
// commit: lineage, parameters, columns, the bank's validation metrics and
// tiers, and where each half is, but no weights.
func (vr *verticalRun) completeLocked(req *fedscorepb.VerticalReport) (*fedscorepb.RegisteredModel, error) {
	j := vr.job
	v := j.GetSpec().GetVertical()
	j.State = fedscorepb.JobState_JOB_STATE_SUCCEEDED
	j.Phase = stateName(j.State)
	j.Ended = timestamppb.New(vr.co.cfg.Now())
	j.Vertical.Iteration = j.Vertical.Iterations
	j.Round = uint32(j.Vertical.Iterations)
	j.Model = &fedscorepb.Model{
		JobId: j.GetId(), Kind: ModelVertical,
		Features:   append(slices.Clone(v.GetBankFeatures()), v.GetPartnerFeatures()...),
		Validation: req.GetValidation(), Rounds: uint32(j.Vertical.Iterations), Tiers: req.GetTiers(),
	}
	if j.Vertical.PartnerModel == "" {
		j.Vertical.PartnerModel = v.GetPartner() + ": (not reported)"
	}
	vm := &fedscorepb.VerticalModel{
		Bank: v.GetBank(), Partner: v.GetPartner(), Helper: v.GetHelper(),
		BankFeatures: v.GetBankFeatures(), PartnerFeatures: v.GetPartnerFeatures(),
		Params: vr.att.params, BankModel: j.Vertical.BankModel, PartnerModel: j.Vertical.PartnerModel,
		Iterations: j.Vertical.Iterations, Attempts: j.Vertical.Attempt,
	}
	rm, err := vr.co.cfg.Store.CompleteJob(proto.Clone(j).(*fedscorepb.Job), &fedscorepb.RegisteredModel{
		JobId: j.GetId(), Kind: ModelVertical, Model: j.Model, Created: j.Ended,
		Participants: []string{v.GetBank(), v.GetPartner()}, Spec: j.GetSpec(), Vertical: vm,
	})
	if err != nil {
		return nil, err
	}
	vr.att.end()
	vr.persisted = vr.co.cfg.Now()
	vr.changedLocked(false) // CompleteJob persisted it
	return rm, nil
}

// ResumeJob implements fedscoregrpc.JobsServer.
func (co *Coordinator) ResumeJob(ctx context.Context, req *fedscorepb.ResumeJobRequest) (*fedscorepb.Job, error) {
	who, _ := IdentityFrom(ctx)
	vr := co.vjob(req.GetJobId())
	if vr == nil {
		if _, err := co.job(req.GetJobId()); err != nil {
			return nil, err
		}
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: job %s is not a vertical job; horizontal jobs resume by themselves when the coordinator restarts", req.GetJobId())
	}
	vr.mu.Lock()
	j := vr.job
	if j.GetState() != fedscorepb.JobState_JOB_STATE_FAILED {
		vr.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: vertical job %s is %s; only a failed job resumes", j.GetId(), stateName(j.GetState()))
	}
	prev := j.GetError()
	j.State = fedscorepb.JobState_JOB_STATE_WAITING
	j.Phase = phaseWaitingParties
	j.Error, j.Ended = "", nil
	j.Vertical.Attempt++
	j.Vertical.Joined, j.Vertical.Done, j.Vertical.FailedParty = nil, nil, ""
	vr.att = newAttempt(j.Vertical.Attempt)
	vr.changedLocked(true)
	out := proto.Clone(j).(*fedscorepb.Job)
	vr.mu.Unlock()
	co.log.Info("vertical job resumed", "job", out.GetId(), "attempt", out.GetVertical().GetAttempt(), "by", who.Name)
	co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "job.resume", Object: out.GetId(),
		Detail: fmt.Sprintf("attempt %d after: %s", out.GetVertical().GetAttempt(), prev)})
	return out, nil
}

// cancel ends a vertical job at a scientist's or admin's request.
func (vr *verticalRun) cancel(reason string) (*fedscorepb.Job, error) {
	vr.mu.Lock()
	if terminal(vr.job.GetState()) && vr.job.GetState() != fedscorepb.JobState_JOB_STATE_FAILED {
		defer vr.mu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "coordinator: job %s already %s", vr.job.GetId(), vr.job.GetState())
	}
	vr.endLocked(fedscorepb.JobState_JOB_STATE_CANCELLED, reason)
	vr.changedLocked(true)
	out := proto.Clone(vr.job).(*fedscorepb.Job)
	key := relayKey(out.GetId(), vr.att.n)
	vr.mu.Unlock()
	vr.co.relay.abort(key, reason)
	return out, nil
}
