// Package participant is the participant node: it dials the coordinator,
// holds one long-lived stream, and answers each task from its own local
// data. Raw rows never leave the node; what it sends is a contribution
// vector that the coordinator only sums (coordinator/round.Layout).
package participant

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/datasets"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Version is sent to the coordinator in Hello.
const Version = "fedscore-participant/0.1"

// Config wires a Node.
type Config struct {
	// ID names the participant; jobs list participants by it.
	ID string
	// Coordinator is the coordinator's gRPC address.
	Coordinator string
	// Data is the node's local table (.parquet or .csv).
	Data string
	// DialOptions carry transport credentials and the like.
	DialOptions []grpc.DialOption
	Log         *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnects.
	MinBackoff, MaxBackoff time.Duration
	// Metrics, if set, registers the node's Prometheus series.
	Metrics prometheus.Registerer
}

func (c *Config) validate() error {
	switch {
	case c.ID == "":
		return errors.New("participant: config needs an id")
	case c.Coordinator == "":
		return errors.New("participant: config needs a coordinator address")
	case c.Data == "":
		return errors.New("participant: config needs a data file")
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(c.MinBackoff, 10*time.Second)
	}
	return nil
}

// Node is a running participant.
type Node struct {
	cfg   Config
	log   *slog.Logger
	table *datasets.Table

	tasks   *prometheus.CounterVec
	seconds *prometheus.HistogramVec

	mu       sync.Mutex
	conn     *grpc.ClientConn // the current connection, for publishing scores
	jobs     map[string]program.Participant
	sessions map[string]*secureSession // by job: one collection at a time
}

// New loads the node's data, so a bad file is reported before the node
// ever connects.
func New(c Config) (*Node, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	t, err := datasets.ReadTable(c.Data)
	if err != nil {
		return nil, err
	}
	if t.Rows() == 0 {
		return nil, fmt.Errorf("participant: %s: %w", c.Data, datasets.ErrEmpty)
	}
	n := &Node{cfg: c, log: c.Log.With("participant", c.ID), table: t, jobs: map[string]program.Participant{}, sessions: map[string]*secureSession{},
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_participant_tasks_total", Help: "Tasks answered, by collection kind, secure-aggregation step and outcome.",
		}, []string{"kind", "step", "outcome"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fedscore_participant_task_seconds", Help: "Time to answer a task (local training included), by kind and step.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18),
		}, []string{"kind", "step"}),
	}
	if c.Metrics != nil {
		c.Metrics.MustRegister(n.tasks, n.seconds)
	}
	return n, nil
}

// Rows is the number of rows in the node's table.
func (n *Node) Rows() int { return n.table.Rows() }

// Run serves the coordinator until ctx ends, reconnecting with jittered
// exponential backoff whenever the stream breaks or the coordinator is
// unreachable.
func (n *Node) Run(ctx context.Context) error {
	backoff := n.cfg.MinBackoff
	for {
		start := time.Now()
		err := n.serve(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(start) > 30*time.Second {
			backoff = n.cfg.MinBackoff // it was a working session, not a crash loop
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		n.log.Warn("coordinator stream ended; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		backoff = min(2*backoff, n.cfg.MaxBackoff)
	}
}

func (n *Node) serve(ctx context.Context) error {
	conn, err := grpc.NewClient(n.cfg.Coordinator, n.cfg.DialOptions...)
	if err != nil {
		return fmt.Errorf("participant: dial %s: %w", n.cfg.Coordinator, err)
	}
	defer conn.Close()
	n.mu.Lock()
	n.conn = conn
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.conn = nil
		n.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := fedscoregrpc.NewFederationClient(conn).Connect(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Hello{Hello: &fedscorepb.Hello{
		ParticipantId: n.cfg.ID, Version: Version,
	}}}); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	if first.GetWelcome() == nil {
		return fmt.Errorf("participant: coordinator did not welcome us (got %T)", first.GetBody())
	}
	n.log.Info("connected to coordinator", "coordinator", n.cfg.Coordinator, "version", first.GetWelcome().GetCoordinatorVersion())

	// Tasks run one at a time on a worker so that the receive loop keeps
	// reading (job ends, cancellations) while a long training step runs.
	tasks := make(chan *fedscorepb.Task, 64)
	workerErr := make(chan error, 1)
	go func() {
		for t := range tasks {
			res := n.Handle(t)
			if err := stream.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Result{Result: res}}); err != nil {
				workerErr <- err
				cancel()
				for range tasks {
				}
				return
			}
		}
		workerErr <- nil
	}()
	defer func() { close(tasks) }()
	for {
		msg, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("participant: coordinator closed the stream")
			}
			return err
		}
		switch b := msg.GetBody().(type) {
		case *fedscorepb.CoordinatorMessage_Task:
			select {
			case tasks <- b.Task:
			default:
				return errors.New("participant: task queue full")
			}
		case *fedscorepb.CoordinatorMessage_JobEnded:
			n.log.Info("job ended", "job", b.JobEnded.GetJobId(), "state", b.JobEnded.GetState(), "reason", b.JobEnded.GetReason())
			n.mu.Lock()
			delete(n.jobs, b.JobEnded.GetJobId())
			n.mu.Unlock()
			n.endSession(b.JobEnded.GetJobId())
		}
	}
}

// Handle computes the answer to one task. It never fails outright: a
// problem with the local data becomes the result's error, so the
// coordinator learns why this node sat the collection out.
func (n *Node) Handle(t *fedscorepb.Task) *fedscorepb.TaskResult {
	res := &fedscorepb.TaskResult{JobId: t.GetJobId(), Seq: t.GetSeq(), Kind: t.GetKind(), SecaggStep: t.GetSecaggStep()}
	log := n.log.With("job", t.GetJobId(), "round", t.GetRound(), "kind", t.GetKind(), "step", t.GetSecaggStep())
	start := time.Now()
	var err error
	switch {
	case t.GetSecaggStep() != fedscorepb.SecAggStep_SEC_AGG_STEP_NONE:
		res.Secagg, err = n.secure(t)
	case t.GetGather():
		res.Gathered, err = n.gather(t)
	default:
		res.Contribution, err = n.compute(t)
	}
	step := round.SecStep(t.GetSecaggStep()).String()
	n.seconds.WithLabelValues(t.GetKind(), step).Observe(time.Since(start).Seconds())
	if err != nil {
		n.tasks.WithLabelValues(t.GetKind(), step, "error").Inc()
		log.Warn("task failed", "err", err)
		res.Error = err.Error()
		return res
	}
	n.tasks.WithLabelValues(t.GetKind(), step, "ok").Inc()
	log.Debug("task done", "took", time.Since(start))
	return res
}

func (n *Node) gather(t *fedscorepb.Task) ([]byte, error) {
	if t.GetKind() == program.KindScore {
		return n.score(t)
	}
	p, err := n.job(t.GetJobId(), t.GetSpec())
	if err != nil {
		return nil, err
	}
	g, ok := p.(program.Gatherer)
	if !ok {
		return nil, fmt.Errorf("participant: model %q gathers nothing", t.GetSpec().GetModel())
	}
	return g.Gather(round.Collection{Kind: t.GetKind(), Round: int(t.GetRound()), Params: t.GetParams(), Plan: t.GetPlan(), Gather: true})
}

func (n *Node) compute(t *fedscorepb.Task) ([]float64, error) {
	p, err := n.job(t.GetJobId(), t.GetSpec())
	if err != nil {
		return nil, err
	}
	return p.Contribute(round.Collection{Kind: t.GetKind(), Round: int(t.GetRound()), Params: t.GetParams(), Plan: t.GetPlan()})
}

// job prepares (once per job) the node's side of the job's program.
func (n *Node) job(id string, spec *fedscorepb.JobSpec) (program.Participant, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.jobs[id]; p != nil {
		return p, nil
	}
	p, err := program.NewParticipant(n.cfg.ID, n.cfg.Data, n.table, spec)
	if err != nil {
		return nil, err
	}
	n.jobs[id] = p
	return p, nil
}
