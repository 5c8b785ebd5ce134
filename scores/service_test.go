package scores

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	pb "github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
)

// serve starts NewGRPCServer and the HTTP handler over st on loopback and
// returns a client connection and the HTTP base URL.
func serve(t *testing.T, st *Store) (*grpc.ClientConn, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewGRPCServer(st)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	hs := httptest.NewServer(NewHTTPHandler(NewService(st)))
	t.Cleanup(hs.Close)
	return cc, hs.URL
}

func code(err error) codes.Code { return status.Code(err) }

// TestServeEndToEnd registers a model over gRPC, publishes scores from three
// participants, queries them over gRPC and HTTP, and exports tier A over
// Flight and Parquet, checking that the counts add up.
func TestServeEndToEnd(t *testing.T) {
	st, _ := openTemp(t)
	cc, base := serve(t, st)
	cl := fedscoregrpc.NewScoresClient(cc)

	if _, err := cl.RegisterModelVersion(ctx, &pb.RegisterModelVersionRequest{ModelVersion: "v1", JobId: "job-1", Round: 12}); err != nil {
		t.Fatal(err)
	}
	// Three participants, 400 customers each, tiers A..E in turn.
	tierCount := map[string]int{}
	for p := 0; p < 3; p++ {
		req := &pb.PublishScoresRequest{BatchId: fmt.Sprintf("job-1/p%d/0", p), ModelVersion: "v1", ParticipantId: fmt.Sprintf("p%d", p)}
		for i := 0; i < 400; i++ {
			tier := string(rune('A' + (i*7+p)%5))
			tierCount[tier]++
			req.Rows = append(req.Rows, &pb.ScoreRow{
				CustomerId:  fmt.Sprintf("p%d-c%04d", p, i),
				Pd:          float64(i) / 400,
				Points:      float64(500 + i),
				Tier:        tier,
				ReasonCodes: []string{"income_low", fmt.Sprintf("r%d", i%3)},
				ScoredAt:    timestamppb.New(at),
			})
		}
		resp, err := cl.PublishScores(ctx, req)
		if err != nil || resp.Rows != 400 || resp.Duplicate {
			t.Fatalf("publish p%d: %v %v", p, resp, err)
		}
		// A retry is acknowledged as a duplicate.
		if resp, err := cl.PublishScores(ctx, req); err != nil || !resp.Duplicate {
			t.Fatalf("retry p%d: %v %v", p, resp, err)
		}
	}
	total := 1200

	// Refusals map onto gRPC codes.
	_, err := cl.PublishScores(ctx, &pb.PublishScoresRequest{BatchId: "x", ModelVersion: "v9", Rows: []*pb.ScoreRow{{CustomerId: "a", Tier: "A"}}})
	if code(err) != codes.FailedPrecondition {
		t.Errorf("unknown version: %v", err)
	}
	_, err = cl.PublishScores(ctx, &pb.PublishScoresRequest{BatchId: "y", ModelVersion: "v1", Rows: []*pb.ScoreRow{{CustomerId: "a", Pd: 2, Tier: "A"}}})
	if code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "pd 2 outside [0, 1]") {
		t.Errorf("pd 2: %v", err)
	}

	// Point lookups.
	s, err := cl.GetScore(ctx, &pb.GetScoreRequest{CustomerId: "p1-c0100"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Pd != 0.25 || s.Points != 600 || s.Tier != "B" || !slices.Equal(s.ReasonCodes, []string{"income_low", "r1"}) ||
		s.ModelVersion != "v1" || s.JobId != "job-1" || s.Round != 12 || !s.ScoredAt.AsTime().Equal(at) {
		t.Errorf("GetScore: %v", s)
	}
	if _, err := cl.GetScore(ctx, &pb.GetScoreRequest{CustomerId: "nobody"}); code(err) != codes.NotFound {
		t.Errorf("unknown customer: %v", err)
	}
	if _, err := cl.GetScore(ctx, &pb.GetScoreRequest{CustomerId: ""}); code(err) != codes.InvalidArgument {
		t.Errorf("empty id: %v", err)
	}

	// Batch lookups: not-found and invalid ids are entries.
	ids := []string{"p0-c0000", "nobody", strings.Repeat("x", 300), "p2-c0399"}
	br, err := cl.BatchGetScores(ctx, &pb.BatchGetScoresRequest{CustomerIds: ids})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus := []pb.ScoreStatus{pb.ScoreStatus_SCORE_STATUS_FOUND, pb.ScoreStatus_SCORE_STATUS_NOT_FOUND,
		pb.ScoreStatus_SCORE_STATUS_INVALID_ID, pb.ScoreStatus_SCORE_STATUS_FOUND}
	for i, r := range br.Results {
		if r.Status != wantStatus[i] || r.CustomerId != ids[i] || (r.Score != nil) != (wantStatus[i] == pb.ScoreStatus_SCORE_STATUS_FOUND) {
			t.Errorf("batch entry %d: %v", i, r)
		}
	}
	if br.Results[3].Score.Pd != 399.0/400 || br.ModelVersion != "v1" {
		t.Errorf("batch: %v", br)
	}
	if _, err := cl.BatchGetScores(ctx, &pb.BatchGetScoresRequest{CustomerIds: make([]string, 1001)}); code(err) != codes.InvalidArgument {
		t.Errorf("1001 ids: %v", err)
	}

	// HTTP/JSON.
	var hs struct {
		CustomerID   string   `json:"customer_id"`
		PD           float64  `json:"pd"`
		Tier         string   `json:"tier"`
		ReasonCodes  []string `json:"reason_codes"`
		ModelVersion string   `json:"model_version"`
		Round        string   `json:"round"` // int64 is a JSON string in protojson
		ScoredAt     string   `json:"scored_at"`
	}
	if c := httpJSON(t, "GET", base+"/v1/scores/p1-c0100", "", &hs); c != 200 {
		t.Fatalf("GET status %d", c)
	}
	if hs.CustomerID != "p1-c0100" || hs.PD != 0.25 || hs.Tier != "B" || hs.ModelVersion != "v1" || hs.Round != "12" || hs.ScoredAt != "2026-11-01T09:30:00.123456789Z" {
		t.Errorf("GET: %+v", hs)
	}
	var he struct {
		Error struct{ Code, Message string }
	}
	if c := httpJSON(t, "GET", base+"/v1/scores/nobody", "", &he); c != 404 || he.Error.Code != "NOT_FOUND" {
		t.Errorf("GET unknown: %d %+v", c, he)
	}
	var hb struct {
		Results []struct {
			CustomerID string `json:"customer_id"`
			Status     string
			Score      *struct{ PD float64 }
		}
	}
	if c := httpJSON(t, "POST", base+"/v1/scores:batchGet", `{"customer_ids":["p0-c0001","nobody"]}`, &hb); c != 200 {
		t.Fatalf("batchGet status %d", c)
	}
	if len(hb.Results) != 2 || hb.Results[0].Status != "SCORE_STATUS_FOUND" || hb.Results[0].Score == nil ||
		hb.Results[1].Status != "SCORE_STATUS_NOT_FOUND" || hb.Results[1].Score != nil {
		t.Errorf("batchGet: %+v", hb)
	}
	if c := httpJSON(t, "POST", base+"/v1/scores:batchGet", `{"customer_ids": 7}`, &he); c != 400 {
		t.Errorf("bad body: %d %+v", c, he)
	}

	// Flight: tier A, then A and B, then everything, against the counts
	// published.
	for _, tiers := range [][]string{{"A"}, {"A", "B"}, nil} {
		want := 0
		for tier, n := range tierCount {
			if len(tiers) == 0 || slices.Contains(tiers, tier) {
				want += n
			}
		}
		seen := 0
		n, err := FetchExport(ctx, cc, Ticket("v1", tiers...), func(rec arrow.Record) error {
			if !rec.Schema().Equal(ExportSchema) {
				t.Errorf("schema %v", rec.Schema())
			}
			tier := rec.Column(3).(*array.String)
			for i := 0; i < tier.Len(); i++ {
				if len(tiers) > 0 && !slices.Contains(tiers, tier.Value(i)) {
					t.Errorf("tier %q in export of %v", tier.Value(i), tiers)
				}
			}
			seen += int(rec.NumRows())
			return nil
		})
		if err != nil || int(n) != want || seen != want {
			t.Errorf("flight %v: %d rows (%d seen), want %d; %v", tiers, n, seen, want, err)
		}
	}
	if n, err := FetchExport(ctx, cc, Ticket("v1", "Z"), func(arrow.Record) error { return nil }); n != 0 || err != nil {
		t.Errorf("flight of an empty tier: %d rows, %v", n, err)
	}
	ft, err := FetchExportTable(ctx, cc, Ticket("", "A"))
	if err != nil || ft.Rows() != tierCount["A"] || ft.Column("scored_at_unix_us").Float[0] != float64(at.UnixMicro()) {
		t.Errorf("flight table: %v, %v", ft, err)
	}
	if _, err := FetchExport(ctx, cc, Ticket("v9", "A"), func(arrow.Record) error { return nil }); code(err) != codes.FailedPrecondition {
		t.Errorf("flight unknown version: %v", err)
	}

	// Parquet: tier A to a file, read back.
	path := filepath.Join(t.TempDir(), "tierA.parquet")
	m, n, err := st.ExportParquet(ctx, path, "", []string{"A"})
	if err != nil || m.Version != "v1" || n != tierCount["A"] {
		t.Fatalf("parquet: %v rows, model %q, %v; want %d", n, m.Version, err, tierCount["A"])
	}
	tab, err := datasets.ReadParquet(path)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows() != tierCount["A"] || tab.Column("tier") == nil || tab.Column("scored_at_unix_us") == nil {
		t.Fatalf("parquet read back: %d rows, columns %v", tab.Rows(), tab.Names())
	}
	for i, tier := range tab.Column("tier").String {
		if tier != "A" {
			t.Errorf("row %d tier %q", i, tier)
		}
	}
	if got := tab.Column("scored_at_unix_us").Float[0]; got != float64(at.UnixMicro()) {
		t.Errorf("scored_at_unix_us %v", got)
	}
	if sum := tierCount["A"] + tierCount["B"] + tierCount["C"] + tierCount["D"] + tierCount["E"]; sum != total {
		t.Errorf("tiers add to %d, want %d", sum, total)
	}

	// A second version, promoted over gRPC, is what reads serve by default.
	if _, err := cl.RegisterModelVersion(ctx, &pb.RegisterModelVersionRequest{ModelVersion: "v2", JobId: "job-2", Round: 3, Champion: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.GetScore(ctx, &pb.GetScoreRequest{CustomerId: "p1-c0100"}); code(err) != codes.NotFound {
		t.Errorf("v2 has no scores yet: %v", err)
	}
	if _, err := cl.PromoteModelVersion(ctx, &pb.PromoteModelVersionRequest{ModelVersion: "v1"}); err != nil {
		t.Fatal(err)
	}
	lm, err := cl.ListModelVersions(ctx, &pb.ListModelVersionsRequest{})
	if err != nil || len(lm.ModelVersions) != 2 || !lm.ModelVersions[0].Champion || lm.ModelVersions[1].JobId != "job-2" {
		t.Errorf("list: %v %v", lm, err)
	}
	if h, err := cl.GetScoreHistory(ctx, &pb.GetScoreRequest{CustomerId: "p1-c0100"}); err != nil || len(h.Scores) != 1 {
		t.Errorf("history: %v %v", h, err)
	}

	// Reflection lists the services, so grpcurl works.
	rc, err := rpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	rr, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range rr.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	if !slices.Contains(names, "fedscore.v1.Scores") || !slices.Contains(names, "arrow.flight.protocol.FlightService") {
		t.Errorf("reflection lists %v", names)
	}
}

func httpJSON(t *testing.T, method, url, body string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %v in %s", method, url, err, b)
	}
	return resp.StatusCode
}
