package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fedSource is a console.Source over a running federation's gRPC API, as
// the coordinator's own implementation will be in process: jobs through
// the scientist's Jobs client, participants through an admin's Admin
// client. Until the coordinator has a model registry and the score
// service reports to it, model versions are the succeeded jobs in order
// and score statistics are derived from them.
type fedSource struct {
	fed       *federation.Federation
	admin     fedscoregrpc.AdminClient
	customers int64

	mu        sync.Mutex
	champions []string // promotions, last is current
	actions   []string
}

var _ console.Source = (*fedSource)(nil)

func (s *fedSource) Jobs(ctx context.Context) ([]*fedscorepb.Job, error) {
	resp, err := s.fed.Jobs.ListJobs(ctx, &fedscorepb.ListJobsRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetJobs(), nil
}

func (s *fedSource) Job(ctx context.Context, id string) (*fedscorepb.Job, error) {
	j, err := s.fed.Jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: id})
	if status.Code(err) == codes.NotFound {
		return nil, fmt.Errorf("job %q: %w", id, console.ErrNotFound)
	}
	return j, err
}

func (s *fedSource) Participants(ctx context.Context) ([]*fedscorepb.ParticipantInfo, error) {
	resp, err := s.admin.ListParticipants(ctx, &fedscorepb.ListParticipantsRequest{})
	if err != nil {
		return nil, err
	}
	return resp.GetParticipants(), nil
}

func (s *fedSource) Models(ctx context.Context) ([]console.ModelVersion, error) {
	jobs, err := s.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(jobs, func(a, b *fedscorepb.Job) int { return a.GetCreated().AsTime().Compare(b.GetCreated().AsTime()) })
	var out []console.ModelVersion
	for _, j := range jobs {
		if j.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED || j.GetModel() == nil {
			continue
		}
		m := j.GetModel()
		out = append(out, console.ModelVersion{
			Version: fmt.Sprintf("v%d", len(out)+1), JobID: j.GetId(), Kind: m.GetKind(),
			AUC: m.GetValidation().GetAuc(), KS: m.GetValidation().GetKs(), Created: j.GetEnded().AsTime(),
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	champ := ""
	if n := len(s.champions); n > 0 {
		champ = s.champions[n-1]
	} else if len(out) > 0 {
		champ = out[0].Version // the first model is the champion until another is promoted
	}
	for i := range out {
		out[i].Champion = out[i].Version == champ
	}
	return out, nil
}

func (s *fedSource) Promote(ctx context.Context, who pki.Identity, version string) error {
	ms, err := s.Models(ctx)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(ms, func(m console.ModelVersion) bool { return m.Version == version })
	if i < 0 {
		return fmt.Errorf("version %q: %w", version, console.ErrNotFound)
	}
	if ms[i].Champion {
		return fmt.Errorf("version %q is the champion: %w", version, console.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.champions) == 0 {
		for _, m := range ms {
			if m.Champion {
				s.champions = append(s.champions, m.Version)
			}
		}
	}
	s.champions = append(s.champions, version)
	s.actions = append(s.actions, who.String()+" promote "+version)
	return nil
}

func (s *fedSource) Rollback(_ context.Context, who pki.Identity) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.champions) < 2 {
		return fmt.Errorf("no earlier champion: %w", console.ErrInvalid)
	}
	s.champions = s.champions[:len(s.champions)-1]
	s.actions = append(s.actions, who.String()+" rollback")
	return nil
}

func (s *fedSource) ScoreStats(ctx context.Context) (console.ScoreStats, error) {
	ms, err := s.Models(ctx)
	if err != nil {
		return console.ScoreStats{}, err
	}
	st := console.ScoreStats{StoreCustomers: s.customers, QueriesPerSec: 12.5, P99Ms: 4.2, LastPublished: map[string]time.Time{}}
	for _, m := range ms {
		st.LastPublished[m.Version] = m.Created.Add(2 * time.Second)
	}
	return st, nil
}

func (s *fedSource) Actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.actions)
}
