package scores

import (
	"errors"
	"testing"
)

// TestClient runs the store's contract through the gRPC client: the same
// results and the same sentinel errors as in-process.
func TestClient(t *testing.T) {
	st, _ := openTemp(t)
	cc, _ := serve(t, st)
	cl := NewClient(cc)
	if _, err := cl.Get(ctx, "c1", ""); !errors.Is(err, ErrNoChampion) {
		t.Errorf("no champion: %v", err)
	}
	if _, err := cl.RegisterModel(ctx, Model{Version: "v1", JobID: "j", Round: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RegisterModel(ctx, Model{Version: "v1", JobID: "other", Round: 2}); !errors.Is(err, ErrModelConflict) {
		t.Errorf("lineage conflict: %v", err)
	}
	rows := BenchRows(2500, 3, at)
	n, err := PublishAll(ctx, cl, "job/p1", "v1", "p1", rows)
	if err != nil || n != 2500 {
		t.Fatalf("PublishAll: %d, %v", n, err)
	}
	if res, err := cl.Publish(ctx, Batch{ID: "job/p1/0", ModelVersion: "v1", Participant: "p1", Rows: rows}); err != nil || !res.Duplicate {
		t.Errorf("replay: %+v, %v", res, err)
	}
	if _, err := cl.Publish(ctx, Batch{ID: "job/p1/0", ModelVersion: "v1", Participant: "p1", Rows: rows[:10]}); !errors.Is(err, ErrBatchConflict) {
		t.Errorf("conflicting replay: %v", err)
	}
	if _, err := cl.Publish(ctx, Batch{ID: "z", ModelVersion: "v7", Rows: rows[:1]}); !errors.Is(err, ErrUnknownModel) {
		t.Errorf("unknown version: %v", err)
	}
	bad := []Row{rows[0]}
	bad[0].PD = -1
	if _, err := cl.Publish(ctx, Batch{ID: "z", ModelVersion: "v1", Rows: bad}); !errors.Is(err, ErrInvalid) || err.Error() != `scores: batch "z" row 0: customer "C0000000000": pd -1 outside [0, 1]` {
		t.Errorf("bad pd: %v", err)
	}
	r, err := cl.Get(ctx, rows[7].CustomerID, "")
	want, _ := st.Get(ctx, rows[7].CustomerID, "")
	if err != nil || r.PD != want.PD || r.Tier != want.Tier || !r.ScoredAt.Equal(want.ScoredAt) || r.JobID != "j" || r.Round != 2 {
		t.Errorf("Get: %+v, %v; store has %+v", r, err, want)
	}
	if _, err := cl.Get(ctx, "nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	m, got, err := cl.GetMany(ctx, []string{rows[1].CustomerID, "nobody", ""}, "")
	if err != nil || m.Version != "v1" || m.JobID != "j" || got[0].Status != Found || got[1].Status != NotFound || got[2].Status != InvalidID {
		t.Errorf("GetMany: %+v %+v %v", m, got, err)
	}
	if m, err := cl.Promote(ctx, "v1"); err != nil || !m.Champion {
		t.Errorf("promote: %+v %v", m, err)
	}
}
