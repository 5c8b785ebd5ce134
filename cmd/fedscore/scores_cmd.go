package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/apache/arrow/go/v17/arrow/flight"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	pb "github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/scores"
)

// runBenchServe is "fedscore bench serve".
func runBenchServe(args []string) error {
	fs := newFlags("bench serve", "bench serve [--customers N] [--duration D] [--clients C] [--json]")
	customers := fs.Int("customers", 2_000_000, "scored customers to load into a fresh store")
	duration := fs.Duration("duration", 5*time.Second, "length of each phase (point lookups, then batch lookups)")
	clients := fs.Int("clients", 0, "concurrent gRPC clients for point lookups (default 8)")
	batchClients := fs.Int("batch-clients", 0, "concurrent gRPC clients for batch lookups (default 1)")
	procs := fs.Int("procs", 0, "GOMAXPROCS while serving (default 1: see scores.BenchConfig.Procs)")
	conns := fs.Int("conns", 0, "gRPC connections the clients share (default 1)")
	batch := fs.Int("batch", 300, "ids per batch lookup")
	dir := fs.String("dir", "", "directory for the store (default: a temporary one, removed afterwards)")
	seed := fs.Uint64("seed", 1, "seed for the synthetic scores and the ids asked for")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := scores.BenchServe(ctx, scores.BenchConfig{
		Customers: *customers, Clients: *clients, BatchClients: *batchClients, Conns: *conns, Procs: *procs,
		Duration: *duration, BatchSize: *batch, Dir: *dir, Seed: *seed, Log: log,
	})
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "customers\tload_s\tclients\tqps\tp50_ms\tp99_ms\tbatch%d_qps\tbatch%d_p99_ms\terrors\tprocs\t\n", res.BatchSize, res.BatchSize)
	fmt.Fprintf(w, "%d\t%.2f\t%d\t%.0f\t%.3f\t%.3f\t%.0f\t%.3f\t%d\t%d\t\n",
		res.Customers, res.LoadS, res.Clients, res.QPS, res.P50Ms, res.P99Ms, res.BatchQPS, res.BatchP99Ms, res.Errors, res.Procs)
	return w.Flush()
}

// runScores is "fedscore scores".
func runScores(args []string) error {
	return subcommands("scores", args, map[string]command{
		"serve":    {"serve the score store: gRPC Scores API, HTTP/JSON, Arrow Flight tier export", scoresServe},
		"export":   {"write the customers of some tiers to a Parquet file", scoresExport},
		"get":      {"look customers' scores up through the gRPC API", scoresGet},
		"models":   {"list the registered model versions", scoresModels},
		"register": {"register a model version that scores may be published for", scoresRegister},
		"promote":  {"make a registered model version the champion", scoresPromote},
	})
}

func scoresServe(args []string) error {
	fs := newFlags("scores serve", "scores serve --store FILE [--listen ADDR] [--http ADDR] [--flight ADDR]")
	storePath := fs.String("store", "scores.db", "score store file (bbolt); created if missing")
	listen := fs.String("listen", "127.0.0.1:7080", "address for gRPC: the Scores service, Arrow Flight and reflection")
	httpAddr := fs.String("http", "", "also serve HTTP/JSON (GET /v1/scores/{id}, POST /v1/scores:batchGet) on this address")
	flightAddr := fs.String("flight", "", "also serve Arrow Flight alone on this address (it is always on --listen too)")
	addrFile := fs.String("addr-file", "", "write the gRPC address actually listened on to this file")
	procs := fs.Int("procs", 0, "GOMAXPROCS (default: every CPU); 1 gives the lowest tail latency on a small VM, see 'bench serve'")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	insecureServe := fs.Bool("insecure", false, "required: a standalone score server has no identities; the coordinator hosts the score store with mutual TLS and roles")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*insecureServe {
		return errors.New("scores serve: a standalone score server runs without TLS and roles; pass --insecure to mean it, or use the store the coordinator serves")
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(scores.ServeGCPercent)
	}
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	st, err := scores.Open(*storePath, &scores.Options{Log: log})
	if err != nil {
		return err
	}
	defer st.Close()

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("scores serve: listen on %s: %w", *listen, err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(lis.Addr().String()+"\n"), 0o644); err != nil {
			return err
		}
	}
	srv := scores.NewGRPCServer(st)
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(lis) }()
	defer srv.GracefulStop()

	if *flightAddr != "" {
		flis, err := net.Listen("tcp", *flightAddr)
		if err != nil {
			return fmt.Errorf("scores serve: listen on %s: %w", *flightAddr, err)
		}
		fsrv := grpc.NewServer()
		flight.RegisterFlightServiceServer(fsrv, scores.NewFlightService(st))
		reflection.Register(fsrv)
		go func() { errc <- fsrv.Serve(flis) }()
		defer fsrv.GracefulStop()
		log.Info("arrow flight serving", "addr", flis.Addr().String())
	}
	if *httpAddr != "" {
		hlis, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			return fmt.Errorf("scores serve: listen on %s: %w", *httpAddr, err)
		}
		hs := &http.Server{Handler: scores.NewHTTPHandler(scores.NewService(st)), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- hs.Serve(hlis) }()
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(ctx)
		}()
		log.Info("http serving", "addr", hlis.Addr().String())
	}
	champion := ""
	if m, err := st.Model(""); err == nil {
		champion = m.Version
	}
	log.Info("scores serving", "addr", lis.Addr().String(), "store", *storePath, "models", len(st.Models()), "champion", champion)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-errc:
		if errors.Is(err, grpc.ErrServerStopped) || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

func scoresExport(args []string) error {
	fs := newFlags("scores export", "scores export (--store FILE | --addr ADDR) [--model VERSION] [--tier A,B] --out FILE.parquet")
	storePath := fs.String("store", "", "read this score store file directly (it must not be open in a server)")
	addr := fs.String("addr", "", "or export through the Arrow Flight endpoint of a running coordinator (or 'scores serve')")
	cf := addConnFlags(fs)
	model := fs.String("model", "", "model version (default: the champion)")
	tiers := fs.String("tier", "", "comma-separated tiers to export (default: every tier)")
	out := fs.String("out", "", "Parquet file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || (*storePath == "") == (*addr == "") {
		fs.Usage()
		return errors.New("scores export: need --out and exactly one of --store and --addr")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var n int
	version := *model
	if *storePath != "" {
		st, err := scores.Open(*storePath, nil)
		if err != nil {
			return fmt.Errorf("%w (is a server holding it? then use --addr)", err)
		}
		defer st.Close()
		m, rows, err := st.ExportParquet(ctx, *out, *model, splitList(*tiers))
		if err != nil {
			return err
		}
		n, version = rows, m.Version
	} else {
		cc, err := scoresDial(cf, *addr)
		if err != nil {
			return err
		}
		defer cc.Close()
		t, err := scores.FetchExportTable(ctx, cc, scores.Ticket(*model, splitList(*tiers)...))
		if err != nil {
			return err
		}
		if err := datasets.WriteParquet(*out, t); err != nil {
			return err
		}
		n = t.Rows()
		if n > 0 {
			version = t.Column("model_version").String[0]
		}
	}
	fmt.Printf("wrote %d customers of model %s, tiers %s, to %s\n", n, orAll(version, "(champion)"), orAll(*tiers, "(all)"), *out)
	return nil
}

func orAll(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func scoresDial(cf *connFlags, addr string) (*grpc.ClientConn, error) {
	if addr == "" {
		addr = cf.address()
	}
	opts, err := cf.dialOptions()
	if err != nil {
		return nil, err
	}
	cc, err := grpc.NewClient(addr, append(opts,
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(scores.MaxPublishMessageBytes), grpc.MaxCallSendMsgSize(scores.MaxPublishMessageBytes)))...)
	if err != nil {
		return nil, fmt.Errorf("scores: dial %s: %w", addr, err)
	}
	return cc, nil
}

func scoresGet(args []string) error {
	fs := newFlags("scores get", "scores get --addr ADDR [--model VERSION] [--json] ID...")
	addr := fs.String("addr", "", "address of the coordinator (or of 'scores serve'); default: the kit's coordinator")
	cf := addConnFlags(fs)
	model := fs.String("model", "", "model version (default: the champion)")
	asJSON := fs.Bool("json", false, "print the BatchGetScoresResponse as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ids := fs.Args()
	if len(ids) == 0 {
		fs.Usage()
		return errors.New("scores get: no customer ids given")
	}
	cc, err := scoresDial(cf, *addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := fedscoregrpc.NewScoresClient(cc).BatchGetScores(ctx, &pb.BatchGetScoresRequest{CustomerIds: ids, ModelVersion: *model})
	if err != nil {
		return fmt.Errorf("scores get: %w", err)
	}
	if *asJSON {
		b, err := scoresJSON(resp)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "CUSTOMER\tPD\tPOINTS\tTIER\tREASONS\tMODEL\tJOB/ROUND\tSCORED AT")
	for _, r := range resp.Results {
		s := r.GetScore()
		if r.Status != pb.ScoreStatus_SCORE_STATUS_FOUND {
			fmt.Fprintf(w, "%s\t%s\t\t\t\t%s\t\t\n", r.CustomerId, strings.ToLower(strings.TrimPrefix(r.Status.String(), "SCORE_STATUS_")), resp.ModelVersion)
			continue
		}
		at := ""
		if s.ScoredAt != nil {
			at = s.ScoredAt.AsTime().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%.4f\t%.0f\t%s\t%s\t%s\t%s/%d\t%s\n", s.CustomerId, s.Pd, s.Points, s.Tier,
			strings.Join(s.ReasonCodes, ","), s.ModelVersion, s.JobId, s.Round, at)
	}
	return w.Flush()
}

func scoresModels(args []string) error {
	fs := newFlags("scores models", "scores models --addr ADDR")
	addr := fs.String("addr", "", "address of the coordinator (or of 'scores serve'); default: the kit's coordinator")
	cf := addConnFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cc, err := scoresDial(cf, *addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := fedscoregrpc.NewScoresClient(cc).ListModelVersions(context.Background(), &pb.ListModelVersionsRequest{})
	if err != nil {
		return fmt.Errorf("scores models: %w", err)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "VERSION\tJOB\tROUND\tCHAMPION\tREGISTERED")
	for _, m := range resp.ModelVersions {
		fmt.Fprintf(w, "%s\t%s\t%d\t%v\t%s\n", m.ModelVersion, m.JobId, m.Round, m.Champion, m.RegisteredAt.AsTime().Format(time.RFC3339))
	}
	return w.Flush()
}

func scoresRegister(args []string) error {
	fs := newFlags("scores register", "scores register --addr ADDR --model VERSION --job JOB [--round R] [--champion]")
	addr := fs.String("addr", "", "address of the coordinator (or of 'scores serve'); default: the kit's coordinator")
	cf := addConnFlags(fs)
	model := fs.String("model", "", "model version to register")
	job := fs.String("job", "", "training job that produced it")
	round := fs.Int64("round", 0, "training round that produced it")
	champion := fs.Bool("champion", false, "also make it the champion (the first version registered always is)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cc, err := scoresDial(cf, *addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	m, err := fedscoregrpc.NewScoresClient(cc).RegisterModelVersion(context.Background(),
		&pb.RegisterModelVersionRequest{ModelVersion: *model, JobId: *job, Round: *round, Champion: *champion})
	if err != nil {
		return fmt.Errorf("scores register: %w", err)
	}
	fmt.Printf("registered %s (job %s, round %d, champion %v)\n", m.ModelVersion, m.JobId, m.Round, m.Champion)
	return nil
}

func scoresPromote(args []string) error {
	fs := newFlags("scores promote", "scores promote --addr ADDR --model VERSION")
	addr := fs.String("addr", "", "address of the coordinator (or of 'scores serve'); default: the kit's coordinator")
	cf := addConnFlags(fs)
	model := fs.String("model", "", "registered model version to make the champion")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cc, err := scoresDial(cf, *addr)
	if err != nil {
		return err
	}
	defer cc.Close()
	m, err := fedscoregrpc.NewScoresClient(cc).PromoteModelVersion(context.Background(), &pb.PromoteModelVersionRequest{ModelVersion: *model})
	if err != nil {
		return fmt.Errorf("scores promote: %w", err)
	}
	fmt.Printf("champion is now %s (job %s, round %d)\n", m.ModelVersion, m.JobId, m.Round)
	return nil
}

func scoresJSON(m proto.Message) ([]byte, error) {
	return protojson.MarshalOptions{UseProtoNames: true, Multiline: true, Indent: "  "}.Marshal(m)
}
