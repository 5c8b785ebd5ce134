package console

import (
	"context"
	"errors"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/secure/pki"
)

// ErrNotFound is what a Source wraps when a job or model version does not
// exist; the console answers 404.
var ErrNotFound = errors.New("console: not found")

// ErrInvalid is what a Source wraps when an admin action cannot be done as
// asked (promoting the champion, rolling back with no earlier version); the
// console answers 409 with the error's text.
var ErrInvalid = errors.New("console: invalid action")

// Source is where the console reads the federation's state and sends the
// actions of an administrator. The coordinator implements it. Every method
// may be called concurrently.
type Source interface {
	// Jobs lists every job.
	Jobs(ctx context.Context) ([]*fedscorepb.Job, error)
	// Job returns one job, or an error wrapping ErrNotFound.
	Job(ctx context.Context, id string) (*fedscorepb.Job, error)
	// Participants lists every participant the coordinator has seen.
	Participants(ctx context.Context) ([]*fedscorepb.ParticipantInfo, error)
	// Models lists the model registry's versions.
	Models(ctx context.Context) ([]ModelVersion, error)
	// Promote makes version the champion. The console calls it only for
	// an identity with role pki.Admin; who is passed for the audit log.
	Promote(ctx context.Context, who pki.Identity, version string) error
	// Rollback makes the previous champion the champion again.
	Rollback(ctx context.Context, who pki.Identity) error
	// ScoreStats describes the score service.
	ScoreStats(ctx context.Context) (ScoreStats, error)
}

// ModelVersion is one version in the model registry.
type ModelVersion struct {
	Version  string    `json:"version"`
	JobID    string    `json:"job_id"`
	Kind     string    `json:"kind"`
	Champion bool      `json:"champion"`
	AUC      float64   `json:"auc"`
	KS       float64   `json:"ks"`
	Created  time.Time `json:"created"`
}

// ScoreStats describes the score service at one moment.
type ScoreStats struct {
	// StoreCustomers is how many customers the score store holds.
	StoreCustomers int64 `json:"store_customers"`
	// QueriesPerSec is the recent rate of score queries.
	QueriesPerSec float64 `json:"queries_per_sec"`
	// P99Ms is the recent 99th percentile of query latency.
	P99Ms float64 `json:"p99_ms"`
	// LastPublished is, by model version, when scores were last published.
	LastPublished map[string]time.Time `json:"last_published"`
}
