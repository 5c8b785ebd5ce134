package federation

import (
	"context"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Every finished job registers a version; the first is the champion; an
// admin promotes and rolls back; a scientist may not.
func TestModelRegistry(t *testing.T) {
	dir := t.TempDir()
	parts, err := datasets.SplitIID(synthetic(t, 3000, 8), 2, datasets.SynthLabel, 8)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"a": writeTable(t, dir, "a.parquet", parts[0]), "b": writeTable(t, dir, "b.parquet", parts[1])}
	fed, err := Start(Options{Participants: files})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	feats, _ := NumericFeatures(parts[0], datasets.SynthID, datasets.SynthLabel)
	var jobs []string
	for _, model := range []string{"logistic", "scorecard"} {
		j, err := fed.Run(ctx, &fedscorepb.JobSpec{Model: model, Label: datasets.SynthLabel, IdColumn: datasets.SynthID,
			Features: feats, Participants: []string{"a", "b"}, Rounds: 3}, nil)
		if err != nil || j.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
			t.Fatalf("%s job: %v %v", model, j.GetError(), err)
		}
		jobs = append(jobs, j.GetId())
	}
	sci := fedscoregrpc.NewRegistryClient(fed.conn)
	list, err := sci.ListModels(ctx, &fedscorepb.ListModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetVersions()) != 2 || list.GetChampion() != "v1" || list.GetVersions()[1].GetJobId() != jobs[1] ||
		list.GetVersions()[1].GetKind() != "scorecard" || len(list.GetVersions()[1].GetModel().GetScorecard()) == 0 {
		t.Fatalf("registry %v", list)
	}
	if _, err := sci.PromoteModel(ctx, &fedscorepb.PromoteModelRequest{Version: "v2"}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("scientist promoting: %v", err)
	}
	adminConn, err := fed.DialAs(pki.Identity{Name: "ops", Role: pki.Admin})
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close()
	admin := fedscoregrpc.NewRegistryClient(adminConn)
	if m, err := admin.PromoteModel(ctx, &fedscorepb.PromoteModelRequest{Version: "v2"}); err != nil || !m.GetChampion() {
		t.Fatalf("promote: %v %v", m, err)
	}
	if m, err := sci.GetRegisteredModel(ctx, &fedscorepb.GetRegisteredModelRequest{}); err != nil || m.GetVersion() != "v2" {
		t.Fatalf("champion after promote: %v %v", m, err)
	}
	if m, err := admin.RollbackModel(ctx, &fedscorepb.RollbackModelRequest{}); err != nil || m.GetVersion() != "v1" {
		t.Fatalf("rollback: %v %v", m, err)
	}
	if _, err := admin.RollbackModel(ctx, &fedscorepb.RollbackModelRequest{}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("rollback past the first: %v", err)
	}
	if _, err := sci.GetRegisteredModel(ctx, &fedscorepb.GetRegisteredModelRequest{Version: "v9"}); status.Code(err) != codes.NotFound {
		t.Fatalf("unknown version: %v", err)
	}
}
