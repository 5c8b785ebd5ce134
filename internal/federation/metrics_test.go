package federation

import (
	"context"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The coordinator's Prometheus series move with a job: rounds, protocol
// steps, bytes and connected participants.
func TestCoordinatorMetrics(t *testing.T) {
	dir := t.TempDir()
	parts, err := datasets.SplitIID(synthetic(t, 3000, 6), 3, datasets.SynthLabel, 6)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	var ids []string
	for i, p := range parts {
		id := string(rune('a' + i))
		files[id] = writeTable(t, dir, id+".parquet", p)
		ids = append(ids, id)
	}
	reg := prometheus.NewRegistry()
	fed, err := Start(Options{Participants: files, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	feats, _ := NumericFeatures(parts[0], datasets.SynthID, datasets.SynthLabel)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := fed.Run(ctx, &fedscorepb.JobSpec{Label: datasets.SynthLabel, IdColumn: datasets.SynthID, Features: feats, Participants: ids, Rounds: 3}, nil)
	if err != nil || job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("job %v: %v", job.GetState(), err)
	}
	if got := testutil.ToFloat64(fed.Coordinator.MetricsFor("fedscore_training_rounds_total")); got != 3 {
		t.Fatalf("training rounds %v, want 3", got)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range families {
		seen[f.GetName()] = true
	}
	for _, name := range []string{"fedscore_phase_duration_seconds", "fedscore_bytes_received_total", "fedscore_bytes_sent_total",
		"fedscore_collections_total", "fedscore_participants_connected", "fedscore_jobs"} {
		if !seen[name] {
			t.Errorf("no %s series", name)
		}
	}
	if n := testutil.CollectAndCount(reg, "fedscore_phase_duration_seconds"); n < 5 {
		t.Errorf("phase durations for %d kind/step pairs, want the secure steps of several kinds", n)
	}
}
