// Package consoletest provides a console.Source held in memory, for tests
// of the console and of what mounts it.
package consoletest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Action is an admin action the fake received.
type Action struct {
	Who     pki.Identity
	Kind    string // "promote" or "rollback"
	Version string
}

// Source is a console.Source over fixed data. Its fields may be set before
// use; afterwards use its methods, which lock.
type Source struct {
	mu        sync.Mutex
	jobs      []*fedscorepb.Job
	parts     []*fedscorepb.ParticipantInfo
	models    []console.ModelVersion
	stats     console.ScoreStats
	champions []string // history of champions, last is current
	actions   []Action
	// Err, when set, fails every read.
	Err error
}

var _ console.Source = (*Source)(nil)

// New returns a fake with jobs, participants, models and score stats.
func New(jobs []*fedscorepb.Job, parts []*fedscorepb.ParticipantInfo, models []console.ModelVersion, stats console.ScoreStats) *Source {
	s := &Source{jobs: jobs, parts: parts, models: slices.Clone(models), stats: stats}
	for _, m := range models {
		if m.Champion {
			s.champions = append(s.champions, m.Version)
		}
	}
	return s
}

// SetJob adds or replaces a job.
func (s *Source) SetJob(j *fedscorepb.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.jobs {
		if old.GetId() == j.GetId() {
			s.jobs[i] = j
			return
		}
	}
	s.jobs = append(s.jobs, j)
}

// Actions returns the admin actions received so far.
func (s *Source) Actions() []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.actions)
}

// Jobs implements console.Source.
func (s *Source) Jobs(context.Context) ([]*fedscorepb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	out := make([]*fedscorepb.Job, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = proto.Clone(j).(*fedscorepb.Job)
	}
	return out, nil
}

// Job implements console.Source.
func (s *Source) Job(_ context.Context, id string) (*fedscorepb.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	for _, j := range s.jobs {
		if j.GetId() == id {
			return proto.Clone(j).(*fedscorepb.Job), nil
		}
	}
	return nil, fmt.Errorf("job %q: %w", id, console.ErrNotFound)
}

// Participants implements console.Source.
func (s *Source) Participants(context.Context) ([]*fedscorepb.ParticipantInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	out := make([]*fedscorepb.ParticipantInfo, len(s.parts))
	for i, p := range s.parts {
		out[i] = proto.Clone(p).(*fedscorepb.ParticipantInfo)
	}
	return out, nil
}

// Models implements console.Source.
func (s *Source) Models(context.Context) ([]console.ModelVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	return slices.Clone(s.models), nil
}

func (s *Source) setChampionLocked(v string) {
	for i := range s.models {
		s.models[i].Champion = s.models[i].Version == v
	}
}

// Promote implements console.Source.
func (s *Source) Promote(_ context.Context, who pki.Identity, version string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slices.ContainsFunc(s.models, func(m console.ModelVersion) bool { return m.Version == version }) {
		return fmt.Errorf("version %q: %w", version, console.ErrNotFound)
	}
	if n := len(s.champions); n > 0 && s.champions[n-1] == version {
		return fmt.Errorf("version %q is already the champion: %w", version, console.ErrInvalid)
	}
	s.actions = append(s.actions, Action{Who: who, Kind: "promote", Version: version})
	s.champions = append(s.champions, version)
	s.setChampionLocked(version)
	return nil
}

// Rollback implements console.Source.
func (s *Source) Rollback(_ context.Context, who pki.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.champions) < 2 {
		return fmt.Errorf("no earlier champion: %w", console.ErrInvalid)
	}
	s.actions = append(s.actions, Action{Who: who, Kind: "rollback"})
	s.champions = s.champions[:len(s.champions)-1]
	s.setChampionLocked(s.champions[len(s.champions)-1])
	return nil
}

// ScoreStats implements console.Source.
func (s *Source) ScoreStats(context.Context) (console.ScoreStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return console.ScoreStats{}, s.Err
	}
	out := s.stats
	out.LastPublished = maps.Clone(s.stats.LastPublished)
	return out, nil
}

// Federation is a small, realistic data set: two finished jobs and one
// training (round 3 of 10, bank dropped out of round 2), three
// participants, two model versions and score statistics, as of now.
func Federation(now time.Time) *Source {
	ts := func(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(d)) }
	metrics := func(auc float64) *fedscorepb.Metrics {
		return &fedscorepb.Metrics{Auc: auc, Ks: auc - 0.35, Logloss: 0.9 - auc/2, Examples: 6000, Positives: 612}
	}
	all := []string{"bank", "partner-1", "partner-2"}
	rounds := func(n int, dropAt int) []*fedscorepb.RoundMetrics {
		var out []*fedscorepb.RoundMetrics
		for r := 1; r <= n; r++ {
			rm := &fedscorepb.RoundMetrics{Round: uint32(r), Participants: all, Examples: 24000, TrainLoss: 0.45 - 0.02*float64(r)}
			if r == dropAt {
				rm.Participants, rm.Dropped = []string{"partner-1", "partner-2"}, []string{"bank"}
			}
			if r < n {
				rm.Validation = metrics(0.70 + 0.01*float64(r))
			}
			out = append(out, rm)
		}
		return out
	}
	spec := func(name string, rounds uint32, parts ...string) *fedscorepb.JobSpec {
		return &fedscorepb.JobSpec{Name: name, Model: "logistic", Label: "default", IdColumn: "customer_id",
			Features: []string{"age", "income", "utilization"}, Participants: parts, MinParticipants: 2, Rounds: rounds}
	}
	done := &fedscorepb.Job{
		Id: "job-0001", Spec: spec("credit-v1", 5, all...), State: fedscorepb.JobState_JOB_STATE_SUCCEEDED,
		Phase: "succeeded", Round: 5, Created: ts(-2 * time.Hour), Started: ts(-2 * time.Hour), Ended: ts(-110 * time.Minute),
		SubmittedBy: "alice", Rounds: rounds(5, 0),
		Model: &fedscorepb.Model{JobId: "job-0001", Kind: "logistic", Features: []string{"age", "income", "utilization"},
			Weights: []float64{-0.21, -0.43, 0.88}, Intercept: -2.3, Validation: metrics(0.7731), Rounds: 5,
			Scaler: &fedscorepb.Standardizer{Mean: []float64{41, 45000, 0.4}, Std: []float64{12, 21000, 0.3}}},
	}
	done.Rounds[4].Validation = metrics(0.7731)
	partnersOnly := &fedscorepb.Job{
		Id: "job-0002", Spec: spec("partners-only", 4, "partner-1", "partner-2"), State: fedscorepb.JobState_JOB_STATE_FAILED,
		Phase: "failed", Error: "round: too few participants answered", Created: ts(-time.Hour), Started: ts(-time.Hour),
		Ended: ts(-59 * time.Minute), SubmittedBy: "bob", Rounds: rounds(1, 0),
	}
	running := &fedscorepb.Job{
		Id: "job-0003", Spec: spec("credit-v2", 10, all...), State: fedscorepb.JobState_JOB_STATE_RUNNING,
		Phase: "train", Round: 4, Created: ts(-time.Minute), Started: ts(-50 * time.Second), SubmittedBy: "alice",
		Rounds: rounds(3, 2), Cohort: all, Answered: 2,
	}
	parts := []*fedscorepb.ParticipantInfo{
		{Id: "bank", Connected: true, LastSeen: ts(-2 * time.Second), Version: "0.8.0"},
		{Id: "partner-1", Connected: true, LastSeen: ts(-time.Second), Version: "0.8.0"},
		{Id: "partner-2", Connected: false, LastSeen: ts(-10 * time.Minute), Version: "0.7.2"},
	}
	models := []console.ModelVersion{
		{Version: "v1", JobID: "job-0001", Kind: "logistic", Champion: true, AUC: 0.7731, KS: 0.4231, Created: now.Add(-110 * time.Minute)},
		{Version: "v0", JobID: "", Kind: "scorecard", AUC: 0.7012, KS: 0.3512, Created: now.Add(-48 * time.Hour)},
	}
	stats := console.ScoreStats{StoreCustomers: 1234567, QueriesPerSec: 42.5, P99Ms: 3.75,
		LastPublished: map[string]time.Time{"v1": now.Add(-5 * time.Minute), "v0": now.Add(-47 * time.Hour)}}
	return New([]*fedscorepb.Job{done, partnersOnly, running}, parts, models, stats)
}
