package scores

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/fedscore/fedscore/api/fedscorepb"
)

// benchStore loads n synthetic customers into a fresh store.
func benchStore(b *testing.B, n int) (*Store, []string) {
	b.Helper()
	st, err := Open(filepath.Join(b.TempDir(), "scores.db"), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	register(b, st, benchVersion)
	rows := BenchRows(n, 1, at)
	ids := make([]string, n)
	for i := range rows {
		ids[i] = rows[i].CustomerID
	}
	for lo := 0; lo < n; lo += MaxBatchRows {
		mustPublish(b, st, Batch{ID: ids[lo], ModelVersion: benchVersion, Rows: rows[lo:min(lo+MaxBatchRows, n)]})
	}
	return st, ids
}

// BenchmarkGetScore is the server's share of a point lookup: the service
// call and marshalling the reply, without the network.
func BenchmarkGetScore(b *testing.B) {
	st, ids := benchStore(b, 200_000)
	svc := NewService(st)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := svc.GetScore(ctx, &pb.GetScoreRequest{CustomerId: ids[rng.IntN(len(ids))]})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBatchGetScores is the server's share of a lookup of 300 ids.
func BenchmarkBatchGetScores(b *testing.B) {
	st, ids := benchStore(b, 200_000)
	svc := NewService(st)
	rng := rand.New(rand.NewPCG(1, 2))
	req := &pb.BatchGetScoresRequest{CustomerIds: make([]string, 300)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := range req.CustomerIds {
			req.CustomerIds[k] = ids[rng.IntN(len(ids))]
		}
		resp, err := svc.BatchGetScores(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := proto.Marshal(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublish stores batches of 10,000 customers, fsync'd.
func BenchmarkPublish(b *testing.B) {
	st, _ := openTemp(b)
	register(b, st, "v1")
	rows := BenchRows(10_000, 1, at)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustPublish(b, st, Batch{ID: string(rune('a'+i%26)) + time.Now().String(), ModelVersion: "v1", Rows: rows})
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkServe runs BenchServe on 100,000 customers for a second per
// phase and reports its figures; `fedscore bench serve` runs the full size.
func BenchmarkServe(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r, err := BenchServe(ctx, BenchConfig{Customers: 100_000, Duration: time.Second, Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if r.Errors != 0 {
			b.Errorf("%d errors", r.Errors)
		}
		b.ReportMetric(r.LoadS, "load_s")
		b.ReportMetric(r.QPS, "qps")
		b.ReportMetric(r.P99Ms, "p99_ms")
		b.ReportMetric(r.BatchP99Ms, "batch300_p99_ms")
	}
}
