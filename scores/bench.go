package scores

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	pb "github.com/fedscore/fedscore/api/fedscorepb"
)

// BenchConfig configures BenchServe. Zero fields take the defaults shown.
type BenchConfig struct {
	Customers    int           // scored customers loaded; default 100,000
	Clients      int           // concurrent clients of point lookups; default 8
	BatchClients int           // concurrent clients of batch lookups; default 1
	Conns        int           // gRPC connections the clients share; default 1, as one client process would use
	Duration     time.Duration // length of each phase (point, batch); default 5 s
	BatchSize    int           // ids per batch lookup; default 300
	// Procs is GOMAXPROCS while serving (the load uses every CPU); default
	// 1. On a small VM, waking a Go thread on another vCPU costs up to a
	// host scheduler tick now and then: on this project's 2-vCPU machine a
	// bare Go TCP echo with 16 clients has a p99 of 4.1 ms with GOMAXPROCS=2
	// and 0.39 ms with 1, and the Scores API likewise. One P serves the
	// server and the clients; the other vCPU is left to the kernel's
	// loopback networking.
	Procs int
	Dir   string       // directory for the store; default a fresh temporary one, removed after
	Seed  uint64       // for the synthetic scores and the ids asked for
	Log   *slog.Logger // progress; default discards
}

// BenchResult is what BenchServe measured. Latencies are as the clients
// see them, over loopback TCP.
type BenchResult struct {
	Customers    int     `json:"customers"`
	Clients      int     `json:"clients"`
	BatchClients int     `json:"batch_clients"`
	Procs        int     `json:"procs"`    // GOMAXPROCS while serving
	LoadS        float64 `json:"load_s"`   // publishing every customer into a fresh store, fsync'd
	StoreMB      float64 `json:"store_mb"` // file size after the load
	QPS          float64 `json:"qps"`      // GetScore calls per second
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	BatchSize    int     `json:"batch_size"`
	BatchQPS     float64 `json:"batch_qps"` // BatchGetScores calls per second
	BatchP50Ms   float64 `json:"batch300_p50_ms"`
	BatchP99Ms   float64 `json:"batch300_p99_ms"`
	Errors       int64   `json:"errors"` // failed calls, plus any customer not found or wrong
	// CPU time of the whole process (server and clients) per call: a
	// figure that holds up when other work shares the machine.
	CPUUsPerPoint float64 `json:"cpu_us_per_point"`
	CPUUsPerBatch float64 `json:"cpu_us_per_batch"`
	PointRequests int64   `json:"point_requests"`
	BatchRequests int64   `json:"batch_requests"`
}

const benchVersion = "bench-v1"

func (c *BenchConfig) defaults() error {
	if c.Customers == 0 {
		c.Customers = 100_000
	}
	if c.Clients == 0 {
		c.Clients = 8
	}
	if c.BatchClients == 0 {
		c.BatchClients = 1
	}
	if c.Procs == 0 {
		c.Procs = 1
	}
	if c.Conns == 0 {
		c.Conns = 1
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 300
	}
	if c.Log == nil {
		c.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch {
	case c.Customers < 1 || c.Customers > 1e9:
		return fmt.Errorf("scores: bench: %d customers, want 1..1e9", c.Customers)
	case c.Clients < 1 || c.BatchClients < 1 || c.Conns < 1 || c.Procs < 1:
		return fmt.Errorf("scores: bench: need at least one client and one connection")
	case c.Duration < 0:
		return fmt.Errorf("scores: bench: negative duration")
	case c.BatchSize < 1 || c.BatchSize > MaxBatchGet:
		return fmt.Errorf("scores: bench: batch size %d, want 1..%d", c.BatchSize, MaxBatchGet)
	}
	return nil
}

// benchID is the id of the i-th synthetic customer, "C" and ten digits:
// ids sort in i order.
func benchID(i int) string {
	var b [11]byte
	b[0] = 'C'
	for k := 10; k > 0; k-- {
		b[k] = byte('0' + i%10)
		i /= 10
	}
	return string(b[:])
}

// BenchRows returns n synthetic scored customers, ids "C0000000000" on in
// sorted order, from seed. PD is a logistic of a normal score, points the
// usual 600 + 50/ln 2 · log-odds scaling, tiers A to E by PD, three reason
// codes out of twelve.
func BenchRows(n int, seed uint64, at time.Time) []Row {
	rng := rand.New(rand.NewPCG(seed, 0x5c0e5))
	codes := []string{"utilisation_high", "missed_payments", "short_history", "income_low", "many_inquiries",
		"balance_rising", "new_account", "cash_advances", "limit_near", "age_young", "tenure_short", "txn_volatile"}
	rows := make([]Row, n)
	reasons := make([]string, 3*n)
	for i := range rows {
		z := rng.NormFloat64()*1.2 - 3
		pd := 1 / (1 + math.Exp(-z))
		tier := "E"
		switch {
		case pd < 0.02:
			tier = "A"
		case pd < 0.05:
			tier = "B"
		case pd < 0.10:
			tier = "C"
		case pd < 0.20:
			tier = "D"
		}
		r := reasons[3*i : 3*i+3 : 3*i+3]
		perm := [12]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11} // three distinct codes: a partial shuffle
		for k := range r {
			j := k + rng.IntN(len(perm)-k)
			perm[k], perm[j] = perm[j], perm[k]
			r[k] = codes[perm[k]]
		}
		rows[i] = Row{CustomerID: benchID(i), PD: pd, Points: math.Round(600 - 50/math.Ln2*z), Tier: tier, Reasons: r, ScoredAt: at}
	}
	return rows
}

// BenchServe loads c.Customers scored customers into a fresh store through
// Publish (batches of MaxBatchRows, each fsync'd), serves the gRPC API on
// loopback and drives it with c.Clients concurrent clients: GetScore of
// random customers for c.Duration, then BatchGetScores of c.BatchSize
// random customers for c.Duration. For its duration it sets the process's
// GOMAXPROCS (to c.Procs, while serving) and, unless the environment sets
// GOGC, its GC percent (to ServeGCPercent), and restores both after.
func BenchServe(ctx context.Context, c BenchConfig) (BenchResult, error) {
	if err := c.defaults(); err != nil {
		return BenchResult{}, err
	}
	dir := c.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fedscore-bench-serve-")
		if err != nil {
			return BenchResult{}, fmt.Errorf("scores: bench: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "scores.db")
	res := BenchResult{Customers: c.Customers, Clients: c.Clients, BatchClients: c.BatchClients, Procs: c.Procs, BatchSize: c.BatchSize}

	// A serving process keeps little on its heap (the scores live in the
	// memory map) but allocates per call: with the default GOGC it would
	// collect every few milliseconds. Collect less often, as `fedscore
	// scores serve` does, unless GOGC says otherwise.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(ServeGCPercent))
	}
	c.Log.Info("generating scores", "customers", c.Customers)
	rows := BenchRows(c.Customers, c.Seed, time.Now())
	start := time.Now()
	st, err := Open(path, nil)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if _, err := st.RegisterModel(ctx, Model{Version: benchVersion, JobID: "bench-job", Round: 1, Champion: true}); err != nil {
		return res, err
	}
	for lo := 0; lo < len(rows); lo += MaxBatchRows {
		hi := min(lo+MaxBatchRows, len(rows))
		b := Batch{ID: fmt.Sprintf("bench-%d", lo/MaxBatchRows), ModelVersion: benchVersion, Participant: "bench", Rows: rows[lo:hi]}
		if _, err := st.Publish(ctx, b); err != nil {
			return res, err
		}
	}
	res.LoadS = time.Since(start).Seconds()
	if fi, err := os.Stat(path); err == nil {
		res.StoreMB = float64(fi.Size()) / (1 << 20)
	}
	c.Log.Info("loaded", "customers", c.Customers, "load_s", res.LoadS, "store_mb", res.StoreMB)
	// Drop the rows, and ask for ids made on the fly, so that the clients'
	// heap stays small and the garbage collector has little to scan: the
	// scores themselves live in the store's memory map, not on the heap.
	rows = nil
	runtime.GC()
	n := c.Customers

	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(c.Procs))

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, fmt.Errorf("scores: bench: %w", err)
	}
	srv := NewGRPCServer(st)
	go srv.Serve(lis)
	defer srv.Stop()
	clients := make([]fedscoregrpc.ScoresClient, c.Conns)
	for i := range clients {
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return res, fmt.Errorf("scores: bench: %w", err)
		}
		defer cc.Close()
		clients[i] = fedscoregrpc.NewScoresClient(cc)
	}

	var errs atomic.Int64
	point := func(cl fedscoregrpc.ScoresClient, rng *rand.Rand) {
		id := benchID(rng.IntN(n))
		s, err := cl.GetScore(ctx, &pb.GetScoreRequest{CustomerId: id})
		if err != nil || s.GetCustomerId() != id || s.GetModelVersion() != benchVersion {
			errs.Add(1)
		}
	}
	batch := func(cl fedscoregrpc.ScoresClient, rng *rand.Rand) {
		req := &pb.BatchGetScoresRequest{CustomerIds: make([]string, c.BatchSize)}
		for i := range req.CustomerIds {
			req.CustomerIds[i] = benchID(rng.IntN(n))
		}
		resp, err := cl.BatchGetScores(ctx, req)
		if err != nil || len(resp.GetResults()) != len(req.CustomerIds) {
			errs.Add(1)
			return
		}
		for i, r := range resp.GetResults() {
			if r.GetStatus() != pb.ScoreStatus_SCORE_STATUS_FOUND || r.GetScore().GetCustomerId() != req.CustomerIds[i] {
				errs.Add(1)
				return
			}
		}
	}
	// Warm up connections, the interner and the page cache.
	if _, err := drive(c.Clients, c.Seed, clients, time.Second/2, point); err != nil {
		return res, err
	}
	errs.Store(0)

	c.Log.Info("driving point lookups", "clients", c.Clients, "duration", c.Duration)
	cpu0 := cpuTime()
	lat, err := drive(c.Clients, c.Seed, clients, c.Duration, point)
	if err != nil {
		return res, err
	}
	res.CPUUsPerPoint = perCallUs(cpuTime()-cpu0, len(lat))
	res.PointRequests = int64(len(lat))
	res.QPS = float64(len(lat)) / c.Duration.Seconds()
	res.P50Ms, res.P99Ms = quantileMs(lat, 0.50), quantileMs(lat, 0.99)

	c.Log.Info("driving batch lookups", "batch", c.BatchSize, "clients", c.BatchClients, "duration", c.Duration)
	cpu0 = cpuTime()
	lat, err = drive(c.BatchClients, c.Seed, clients, c.Duration, batch)
	if err != nil {
		return res, err
	}
	res.CPUUsPerBatch = perCallUs(cpuTime()-cpu0, len(lat))
	res.BatchRequests = int64(len(lat))
	res.BatchQPS = float64(len(lat)) / c.Duration.Seconds()
	res.BatchP50Ms, res.BatchP99Ms = quantileMs(lat, 0.50), quantileMs(lat, 0.99)
	res.Errors = errs.Load()
	return res, ctx.Err()
}

// drive runs call from n goroutines for d and returns every call's
// latency, sorted.
func drive(n int, seed uint64, clients []fedscoregrpc.ScoresClient, d time.Duration, call func(fedscoregrpc.ScoresClient, *rand.Rand)) ([]time.Duration, error) {
	var wg sync.WaitGroup
	lats := make([][]time.Duration, n)
	deadline := time.Now().Add(d)
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(g)+1))
			cl := clients[g%len(clients)]
			lat := make([]time.Duration, 0, 1<<16)
			for {
				t0 := time.Now()
				if !t0.Before(deadline) {
					break
				}
				call(cl, rng)
				lat = append(lat, time.Since(t0))
			}
			lats[g] = lat
		}()
	}
	wg.Wait()
	all := slices.Concat(lats...)
	slices.Sort(all)
	return all, nil
}

// quantileMs returns the q-quantile of sorted latencies in milliseconds
// (nearest rank).
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	i = max(0, min(i, len(sorted)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}

func perCallUs(d time.Duration, calls int) float64 {
	if calls == 0 {
		return 0
	}
	return float64(d) / float64(time.Microsecond) / float64(calls)
}
