package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/apache/arrow/go/v17/arrow/flight"
	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/store"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/scores"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
)

// serverOptions tolerate long local training: participants may ping every
// 20 s with no task in flight without being told they ping too much.
func serverOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 30 * time.Second, Timeout: 20 * time.Second}),
		grpc.MaxRecvMsgSize(64 << 20),
	}
}

func clientOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 20 * time.Second, Timeout: 20 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20)),
	}
}

func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runCoordinator(args []string) error {
	fs := newFlags("coordinator", "coordinator --kit DIR [--listen ADDR] [--store FILE] [--audit FILE]")
	listen := fs.String("listen", "127.0.0.1:7070", "address to serve gRPC on")
	storePath := fs.String("store", "fedscore.db", "job store file (bbolt); created if missing")
	auditPath := fs.String("audit", "", "append-only audit log (JSON lines, hash-chained); default: beside the store")
	httpAddr := fs.String("http", "", "serve /metrics (Prometheus), the web console and the scores HTTP/JSON API on this address, e.g. 127.0.0.1:9090")
	scoresPath := fs.String("scores", "", "score store file (bbolt); default: beside the job store")
	scoresHTTP := fs.String("scores-http", "", "serve the scores HTTP/JSON API (GET /v1/scores/{id}, POST /v1/scores:batchGet) on this address, with the same mutual TLS and roles as gRPC")
	cf := addConnFlags(fs)
	kits := fs.String("kits", "", "directory of the provisioned kits, which vertical jobs' parties are checked against (default: the directory holding --kit)")
	addrFile := fs.String("addr-file", "", "write the address actually listened on to this file (useful with --listen 127.0.0.1:0)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	vJoin := fs.Duration("vertical-join-timeout", coordinator.DefaultVerticalJoinTimeout, "how long a vertical job's attempt waits, once both data parties have joined, for every party (the helper too) to open its relay stream; then it fails naming the party, resumable")
	vIdle := fs.Duration("vertical-idle-timeout", coordinator.DefaultVerticalIdleTimeout, "how long a running vertical attempt's relay session may carry no message before the attempt fails, naming the party silent the longest, resumable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *vJoin <= 0 || *vIdle <= 0 {
		return errors.New("coordinator: --vertical-join-timeout and --vertical-idle-timeout must be positive")
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	st, err := store.OpenBolt(*storePath)
	if err != nil {
		return err
	}
	defer st.Close()
	if *auditPath == "" {
		*auditPath = *storePath + ".audit.jsonl"
	}
	al, err := audit.Open(*auditPath)
	if err != nil {
		return err
	}
	defer al.Close()
	if cf.insecure {
		log.Warn("running with --insecure: no TLS, no authentication, every caller may do everything")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var con *console.Console
	consoleLogin := func(id pki.Identity, ttl time.Duration) (string, error) {
		if con == nil {
			return "", errors.New("no web console")
		}
		return con.LoginURL("http://"+*httpAddr, id, ttl)
	}
	if *scoresPath == "" {
		*scoresPath = *storePath + ".scores.db"
	}
	scoreStore, err := scores.Open(*scoresPath, &scores.Options{Log: log})
	if err != nil {
		return err
	}
	defer scoreStore.Close()
	cfg := coordinator.Config{Store: st, Log: log, Insecure: cf.insecure, Audit: al, Metrics: reg,
		OnRegister: federation.RegisterWithScores(scoreStore, log), VerticalJoinTimeout: *vJoin, VerticalIdleTimeout: *vIdle}
	if *httpAddr != "" {
		cfg.ConsoleLogin = consoleLogin
	}
	if *kits == "" && cf.kit != "" {
		*kits = filepath.Dir(filepath.Clean(cf.kit))
	}
	if *kits != "" {
		cfg.Identities = kitDirectory(*kits)
	}
	co, err := coordinator.New(cfg)
	if err != nil {
		return err
	}
	creds, kit, err := cf.serverCreds(co.IsRevoked)
	if err != nil {
		co.Close()
		return err
	}
	if kit != nil && kit.Role != pki.Coordinator {
		co.Close()
		return fmt.Errorf("coordinator: kit %s is for a %s, not a coordinator", kit.Dir, kit.Role)
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		co.Close()
		return fmt.Errorf("coordinator: listen on %s: %w", *listen, err)
	}
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(lis.Addr().String()+"\n"), 0o644); err != nil {
			co.Close()
			return err
		}
	}
	opts := append(serverOptions(), co.ServerOptions()...)
	if creds != nil {
		opts = append(opts, creds)
	}
	srv := grpc.NewServer(opts...)
	co.Register(srv)
	fedscoregrpc.RegisterScoresServer(srv, scores.NewService(scoreStore))
	flight.RegisterFlightServiceServer(srv, scores.NewFlightService(scoreStore))
	reflection.Register(srv)
	ctx, stop := signalContext()
	defer stop()
	go func() {
		<-ctx.Done()
		log.Info("shutting down")
		co.Close()
		srv.GracefulStop()
	}()
	if *httpAddr != "" {
		key, err := consoleKey(*storePath + ".console.key")
		if err != nil {
			co.Close()
			return err
		}
		con, err = console.New(console.Config{Source: coordinator.ConsoleSource{Co: co}, Key: key, Revoked: co.IsRevoked, Log: log})
		if err != nil {
			co.Close()
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		mux.Handle("/", con.Handler())
		hs, err := serveHTTP(*httpAddr, mux, log)
		if err != nil {
			co.Close()
			return err
		}
		defer hs.Close()
	}
	if *scoresHTTP != "" {
		h := coordinator.HTTPGuard(co, scores.NewHTTPHandler(scores.NewService(scoreStore)), pki.Credit, pki.Scientist, pki.Admin)
		lis, err := net.Listen("tcp", *scoresHTTP)
		if err != nil {
			co.Close()
			return err
		}
		hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		if !cf.insecure {
			cert, key, ca, err := kit.PEMs()
			if err != nil {
				co.Close()
				return err
			}
			if hs.TLSConfig, err = pki.ServerTLS(cert, key, ca, func(x *x509.Certificate) bool { return co.IsRevoked(x.Subject.CommonName) }); err != nil {
				co.Close()
				return err
			}
			go hs.ServeTLS(lis, "", "")
		} else {
			go hs.Serve(lis)
		}
		defer hs.Close()
		log.Info("scores HTTP serving", "addr", lis.Addr().String(), "tls", !cf.insecure)
	}
	log.Info("coordinator serving", "addr", lis.Addr().String(), "store", *storePath, "audit", *auditPath, "tls", !cf.insecure)
	if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

func runParticipant(args []string) error {
	fs := newFlags("participant", "participant --kit DIR --data FILE [--coordinator ADDR]")
	id := fs.String("id", "", "participant id, as jobs list it (default: the kit's name)")
	data := fs.String("data", "", "local data file, .parquet or .csv (required)")
	cf := addConnFlags(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	metricsAddr := fs.String("metrics", "", "serve Prometheus /metrics on this address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id == "" && !cf.insecure {
		k, err := cf.loadKit()
		if err != nil {
			return err
		}
		if k.Role != pki.Participant {
			return fmt.Errorf("participant: kit %s is for a %s, not a participant", k.Dir, k.Role)
		}
		*id = k.Name
	}
	if *id == "" || *data == "" {
		fs.Usage()
		return errors.New("participant: --data is required, and --id when running --insecure")
	}
	dialOpts, err := cf.dialOptions()
	if err != nil {
		return err
	}
	addr := cf.address()
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	node, err := participant.New(participant.Config{
		ID: *id, Coordinator: addr, Data: *data, DialOptions: dialOpts, Log: log,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 10 * time.Second, Metrics: reg,
	})
	if err != nil {
		return err
	}
	if *metricsAddr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		hs, err := serveHTTP(*metricsAddr, mux, log)
		if err != nil {
			return err
		}
		defer hs.Close()
	}
	log.Info("participant starting", slog.String("id", *id), slog.String("data", *data), slog.Int("rows", node.Rows()), slog.String("coordinator", addr))
	ctx, stop := signalContext()
	defer stop()
	return node.Run(ctx)
}

// serveHTTP serves h on addr in the background.
func serveHTTP(addr string, h http.Handler, log *slog.Logger) (*http.Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	log.Info("http serving", "addr", lis.Addr().String())
	return hs, nil
}

// consoleKey keeps the console's signing key beside the store, so sessions
// survive a restart; it is created on first use, readable only by its owner.
func consoleKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil && len(b) >= 32 {
		return b, nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("console key: %w", err)
	}
	return key, nil
}
