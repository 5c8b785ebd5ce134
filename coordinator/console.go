package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/store"
	"github.com/fedscore/fedscore/secure/pki"
)

// ConsoleSource is the coordinator as the web console reads it.
type ConsoleSource struct {
	Co *Coordinator
	// Scores, if set, describes the score service the coordinator hosts.
	Scores func(ctx context.Context) (console.ScoreStats, error)
}

var _ console.Source = ConsoleSource{}

func consoleError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrNoModel), errors.Is(err, store.ErrNoChampion):
		return fmt.Errorf("%w: %v", console.ErrNotFound, err)
	case errors.Is(err, store.ErrIsChampion), errors.Is(err, store.ErrNoPrevious):
		return fmt.Errorf("%w: %v", console.ErrInvalid, err)
	}
	return err
}

// Jobs implements console.Source.
func (s ConsoleSource) Jobs(ctx context.Context) ([]*fedscorepb.Job, error) {
	res, err := s.Co.ListJobs(ctx, &fedscorepb.ListJobsRequest{})
	if err != nil {
		return nil, err
	}
	return res.GetJobs(), nil
}

// Job implements console.Source.
func (s ConsoleSource) Job(ctx context.Context, id string) (*fedscorepb.Job, error) {
	co := s.Co
	co.mu.Lock()
	jr := co.jobs[id]
	co.mu.Unlock()
	if jr != nil {
		return jr.snapshot(), nil
	}
	j, err := co.cfg.Store.GetJob(id)
	return j, consoleError(err)
}

// Participants implements console.Source.
func (s ConsoleSource) Participants(ctx context.Context) ([]*fedscorepb.ParticipantInfo, error) {
	res, err := s.Co.ListParticipants(ctx, &fedscorepb.ListParticipantsRequest{})
	if err != nil {
		return nil, err
	}
	return res.GetParticipants(), nil
}

// Models implements console.Source.
func (s ConsoleSource) Models(ctx context.Context) ([]console.ModelVersion, error) {
	ms, _, err := s.Co.cfg.Store.Models()
	if err != nil {
		return nil, err
	}
	out := make([]console.ModelVersion, 0, len(ms))
	for _, m := range ms {
		v := console.ModelVersion{Version: m.GetVersion(), JobID: m.GetJobId(), Kind: m.GetKind(), Champion: m.GetChampion(),
			AUC: m.GetModel().GetValidation().GetAuc(), KS: m.GetModel().GetValidation().GetKs()}
		if m.GetCreated() != nil {
			v.Created = m.GetCreated().AsTime()
		}
		out = append(out, v)
	}
	return out, nil
}

// Promote implements console.Source.
func (s ConsoleSource) Promote(ctx context.Context, who pki.Identity, version string) error {
	m, err := s.Co.cfg.Store.Promote(version)
	if err != nil {
		return consoleError(err)
	}
	s.Co.championChanged(m)
	s.Co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "model.promote", Object: m.GetVersion(), Detail: "from the console"})
	return nil
}

// Rollback implements console.Source.
func (s ConsoleSource) Rollback(ctx context.Context, who pki.Identity) error {
	m, err := s.Co.cfg.Store.Rollback()
	if err != nil {
		return consoleError(err)
	}
	s.Co.championChanged(m)
	s.Co.audit(audit.Record{Actor: who.Name, Role: string(who.Role), Action: "model.rollback", Object: m.GetVersion(), Detail: "from the console"})
	return nil
}

// ScoreStats implements console.Source.
func (s ConsoleSource) ScoreStats(ctx context.Context) (console.ScoreStats, error) {
	if s.Scores == nil {
		return console.ScoreStats{LastPublished: map[string]time.Time{}}, nil
	}
	return s.Scores(ctx)
}
