package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/scores"
	"github.com/fedscore/fedscore/secure/pki"
)

// Train, register, score at three participants, query through gRPC and
// HTTP, export tier A through Flight and Parquet, and check the counts add
// up. Each service speaks with its own identity.
func TestTrainScoreQueryExport(t *testing.T) {
	dir := t.TempDir()
	const customers = 6000
	w := synthetic(t, customers, 21)
	parts, err := datasets.SplitIID(w, 3, datasets.SynthLabel, 21)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	var ids []string
	for i, p := range parts {
		id := fmt.Sprintf("node-%d", i+1)
		files[id] = writeTable(t, dir, id+".parquet", p)
		ids = append(ids, id)
	}
	st, err := scores.Open(filepath.Join(dir, "scores.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fed, err := Start(Options{Participants: files, Scores: st})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	train, err := fed.Run(ctx, &fedscorepb.JobSpec{Model: "scorecard", Label: datasets.SynthLabel, IdColumn: datasets.SynthID,
		Features: []string{"age", "income", "utilization", "delinquencies_12m", "employment", "monthly_spend"}, Participants: ids, Rounds: 5}, nil)
	if err != nil || train.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("training: %v %v", train.GetError(), err)
	}
	scoring, err := fed.Run(ctx, &fedscorepb.JobSpec{Model: "score", IdColumn: datasets.SynthID, Participants: ids}, nil)
	if err != nil || scoring.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		t.Fatalf("scoring: %v %v", scoring.GetError(), err)
	}
	if got := scoring.GetSpec().GetScoreVersion(); got != "v1" {
		t.Fatalf("scored with %q, want the champion v1", got)
	}
	if n := scoring.GetRounds()[0].GetExamples(); n != customers {
		t.Fatalf("published %d scores, want %d", n, customers)
	}

	// The credit service: point and batch queries over gRPC.
	creditConn, err := fed.DialAs(pki.Identity{Name: "credit", Role: pki.Credit})
	if err != nil {
		t.Fatal(err)
	}
	defer creditConn.Close()
	credit := scores.NewClient(creditConn)
	id0 := w.Column(datasets.SynthID).String[0]
	rec, err := credit.Get(ctx, id0, "")
	if err != nil {
		t.Fatal(err)
	}
	if rec.ModelVersion != "v1" || rec.JobID != train.GetId() || !(rec.PD > 0 && rec.PD < 1) || rec.Tier == "" || rec.Points == 0 {
		t.Fatalf("score of %s: %+v (lineage to %s expected)", id0, rec, train.GetId())
	}
	batch := []string{id0, w.Column(datasets.SynthID).String[1], "C-nobody"}
	_, looks, err := credit.GetMany(ctx, batch, "")
	if err != nil || len(looks) != 3 {
		t.Fatalf("batch get: %v %v", looks, err)
	}
	// A participant may not read scores; the marketing service may not
	// read single scores either.
	mktConn, err := fed.DialAs(pki.Identity{Name: "marketing", Role: pki.Marketing})
	if err != nil {
		t.Fatal(err)
	}
	defer mktConn.Close()
	if _, err := scores.NewClient(mktConn).Get(ctx, id0, ""); err == nil {
		t.Fatal("marketing read a single score")
	}

	// The same over HTTP/JSON.
	hs := httptest.NewServer(scores.NewHTTPHandler(scores.NewService(st)))
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/v1/scores/" + id0)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || fmt.Sprint(body["model_version"]) != "v1" {
		t.Fatalf("HTTP %d %v", resp.StatusCode, body)
	}

	// Marketing: tiers in bulk through Flight and to Parquet; the tiers'
	// counts add up to every customer.
	total := 0
	for _, tier := range []string{"A", "B", "C", "D", "E"} {
		tab, err := scores.FetchExportTable(ctx, mktConn, scores.Ticket("v1", tier))
		if err != nil {
			t.Fatal(err)
		}
		_, n, err := st.ExportParquet(ctx, filepath.Join(dir, "tier-"+tier+".parquet"), "v1", []string{tier})
		if err != nil {
			t.Fatal(err)
		}
		if n != tab.Rows() {
			t.Fatalf("tier %s: Flight %d rows, Parquet %d", tier, tab.Rows(), n)
		}
		total += n
	}
	if total != customers {
		t.Fatalf("tiers hold %d customers, want %d", total, customers)
	}
	if _, err := scores.FetchExportTable(ctx, creditConn, scores.Ticket("v1", "A")); err == nil {
		t.Fatal("the credit service exported a tier")
	}
}
