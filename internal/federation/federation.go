// Package federation starts a whole federation in one process: a real
// coordinator serving gRPC on a loopback port and real participant nodes
// dialling it. fedscore simulate, the benchmarks and the integration tests
// all use it, so the same code path is exercised everywhere.
package federation

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/apache/arrow/go/v17/arrow/flight"
	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/store"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/scores"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Options describe the federation to start.
type Options struct {
	// Participants maps participant ids to their local data files.
	Participants map[string]string
	// Store defaults to an in-memory store.
	Store store.Store
	Log   *slog.Logger
	// ServerOptions are added to the coordinator's gRPC server (tests use
	// them to observe what reaches the coordinator).
	ServerOptions []grpc.ServerOption
	// Insecure runs without TLS. By default the federation provisions a CA
	// in memory and every party, the job client included, speaks mutual
	// TLS with its own certificate, as in a deployment.
	Insecure bool
	// Audit, if set, is the coordinator's audit log.
	Audit *audit.Log
	// Metrics, if set, registers the coordinator's Prometheus series.
	Metrics prometheus.Registerer
	// Scores, if set, is the score store the coordinator serves (Scores
	// service and Flight export on its gRPC port); registered models are
	// registered with it.
	Scores *scores.Store
	// Identities are provisioned with the federation's CA beyond the
	// participants (which always are): the coordinator's directory of
	// provisioned identities, which vertical jobs are checked against.
	Identities []pki.Identity
	// VerticalJoinTimeout and VerticalIdleTimeout are the coordinator's
	// (coordinator.Config); zero takes its defaults.
	VerticalJoinTimeout, VerticalIdleTimeout time.Duration
}

// Federation is a running coordinator with its participants.
type Federation struct {
	Addr        string
	Coordinator *coordinator.Coordinator
	Jobs        fedscoregrpc.JobsClient

	server *grpc.Server
	conn   *grpc.ClientConn
	ca     *pki.CA
	caPEM  []byte
	cancel context.CancelFunc
	ctx    context.Context
	wg     sync.WaitGroup
	errs   chan error

	mu    sync.Mutex
	nodes map[string]*nodeRun
	log   *slog.Logger
	files map[string]string

	dirMu       sync.Mutex
	provisioned map[string]pki.Role
}

// lookup is the coordinator's directory of provisioned identities.
func (f *Federation) lookup(name string) (pki.Role, bool) {
	f.dirMu.Lock()
	defer f.dirMu.Unlock()
	r, ok := f.provisioned[name]
	return r, ok
}

// Start brings up the coordinator and every participant.
func Start(o Options) (*Federation, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Store == nil {
		o.Store = store.NewMemory()
	}
	f := &Federation{errs: make(chan error, len(o.Participants)+1), provisioned: map[string]pki.Role{}}
	for _, id := range o.Identities {
		f.provisioned[id.Name] = id.Role
	}
	for id := range o.Participants {
		f.provisioned[id] = pki.Participant
	}
	co, err := coordinator.New(coordinator.Config{Store: o.Store, Log: o.Log.With("role", "coordinator"), Insecure: o.Insecure, Audit: o.Audit, Metrics: o.Metrics,
		OnRegister: RegisterWithScores(o.Scores, o.Log), Identities: f.lookup,
		VerticalJoinTimeout: o.VerticalJoinTimeout, VerticalIdleTimeout: o.VerticalIdleTimeout})
	if err != nil {
		return nil, err
	}
	f.Coordinator = co
	srvOpts := append(co.ServerOptions(), grpc.MaxRecvMsgSize(scores.MaxPublishMessageBytes))
	srvOpts = append(srvOpts, o.ServerOptions...)
	if !o.Insecure {
		if err := f.provision(); err != nil {
			co.Close()
			return nil, err
		}
		iss, err := f.ca.Issue(pki.Identity{Name: "coordinator", Role: pki.Coordinator}, []string{"127.0.0.1", "localhost"}, pki.Options{})
		if err != nil {
			co.Close()
			return nil, err
		}
		tlsCfg, err := pki.ServerTLS(iss.CertPEM, iss.KeyPEM, f.caPEM, func(c *x509.Certificate) bool { return co.IsRevoked(c.Subject.CommonName) })
		if err != nil {
			co.Close()
			return nil, err
		}
		srvOpts = append(srvOpts, grpc.Creds(credentials.NewTLS(tlsCfg)))
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		co.Close()
		return nil, fmt.Errorf("federation: listen: %w", err)
	}
	f.Addr = lis.Addr().String()
	srv := grpc.NewServer(srvOpts...)
	co.Register(srv)
	if o.Scores != nil {
		fedscoregrpc.RegisterScoresServer(srv, scores.NewService(o.Scores))
		flight.RegisterFlightServiceServer(srv, scores.NewFlightService(o.Scores))
	}
	f.server = srv
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			f.errs <- err
		}
	}()
	f.conn, err = f.DialAs(pki.Identity{Name: "scientist", Role: pki.Scientist})
	if err != nil {
		f.Close()
		return nil, err
	}
	f.Jobs = fedscoregrpc.NewJobsClient(f.conn)

	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.nodes, f.log, f.files = map[string]*nodeRun{}, o.Log, o.Participants
	ids := make([]string, 0, len(o.Participants))
	for id := range o.Participants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := f.StartParticipant(id); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// nodeRun is one running participant node.
type nodeRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// StartParticipant starts (or restarts) participant id's node.
func (f *Federation) StartParticipant(id string) error {
	creds, err := f.Credentials(pki.Identity{Name: id, Role: pki.Participant})
	if err != nil {
		return err
	}
	node, err := participant.New(participant.Config{
		ID: id, Coordinator: f.Addr, Data: f.files[id],
		DialOptions: []grpc.DialOption{creds, grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(scores.MaxPublishMessageBytes))},
		Log:         f.log.With("role", "participant"),
		MinBackoff:  50 * time.Millisecond, MaxBackoff: time.Second,
	})
	if err != nil {
		return err
	}
	f.StopParticipant(id)
	ctx, cancel := context.WithCancel(f.ctx)
	run := &nodeRun{cancel: cancel, done: make(chan struct{})}
	f.mu.Lock()
	f.nodes[id] = run
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(run.done)
		if err := node.Run(ctx); err != nil {
			f.errs <- err
		}
	}()
	return nil
}

// StopParticipant stops participant id's node, as a crash would: its
// stream ends without a goodbye.
func (f *Federation) StopParticipant(id string) {
	f.mu.Lock()
	run := f.nodes[id]
	delete(f.nodes, id)
	f.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

func (f *Federation) provision() error {
	ca, err := pki.NewCA("fedscore test federation", pki.Options{})
	if err != nil {
		return err
	}
	certPEM, _, err := ca.PEM()
	if err != nil {
		return err
	}
	f.ca, f.caPEM = ca, certPEM
	return nil
}

// Credentials returns transport credentials for an identity of this
// federation: a fresh certificate from its CA, or none when insecure.
func (f *Federation) Credentials(id pki.Identity) (grpc.DialOption, error) {
	if f.ca == nil {
		return grpc.WithTransportCredentials(insecure.NewCredentials()), nil
	}
	iss, err := f.ca.Issue(id, nil, pki.Options{})
	if err != nil {
		return nil, err
	}
	cfg, err := pki.ClientTLS(iss.CertPEM, iss.KeyPEM, f.caPEM)
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(cfg)), nil
}

// CA is the federation's certificate authority (nil when insecure).
func (f *Federation) CA() (*pki.CA, []byte) { return f.ca, f.caPEM }

// DialAs connects to the coordinator as the given identity.
func (f *Federation) DialAs(id pki.Identity) (*grpc.ClientConn, error) {
	creds, err := f.Credentials(id)
	if err != nil {
		return nil, err
	}
	return grpc.NewClient(f.Addr, creds)
}

// Run submits a job and waits for it to end, calling progress (if not nil)
// with every update the coordinator streams.
func (f *Federation) Run(ctx context.Context, spec *fedscorepb.JobSpec, progress func(*fedscorepb.Job)) (*fedscorepb.Job, error) {
	job, err := f.Jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: spec})
	if err != nil {
		return nil, err
	}
	return Watch(ctx, f.Jobs, job.GetId(), progress)
}

// Watch follows a job until it ends and returns its final state.
func Watch(ctx context.Context, jobs fedscoregrpc.JobsClient, id string, progress func(*fedscorepb.Job)) (*fedscorepb.Job, error) {
	stream, err := jobs.WatchJob(ctx, &fedscorepb.GetJobRequest{JobId: id})
	if err != nil {
		return nil, err
	}
	var last *fedscorepb.Job
	for {
		j, err := stream.Recv()
		if err != nil {
			if last != nil && isTerminal(last.GetState()) {
				return last, nil
			}
			return last, fmt.Errorf("federation: watching %s: %w", id, err)
		}
		last = j
		if progress != nil {
			progress(j)
		}
		if isTerminal(j.GetState()) {
			return j, nil
		}
	}
}

func isTerminal(s fedscorepb.JobState) bool {
	return s == fedscorepb.JobState_JOB_STATE_SUCCEEDED || s == fedscorepb.JobState_JOB_STATE_FAILED || s == fedscorepb.JobState_JOB_STATE_CANCELLED
}

// Close stops participants, then the coordinator.
func (f *Federation) Close() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	if f.conn != nil {
		f.conn.Close()
	}
	f.Coordinator.Close()
	if f.server != nil {
		f.server.Stop()
	}
}

// RegisterWithScores is the coordinator's OnRegister hook that tells a
// score store about a model version, so participants can publish scores
// for it (nil when there is no store).
func RegisterWithScores(st *scores.Store, log *slog.Logger) func(*fedscorepb.RegisteredModel) {
	if st == nil {
		return nil
	}
	return func(rm *fedscorepb.RegisteredModel) {
		_, err := st.RegisterModel(context.Background(), scores.Model{
			Version: rm.GetVersion(), JobID: rm.GetJobId(), Round: int64(rm.GetModel().GetRounds()), Champion: rm.GetChampion(),
		})
		if err != nil && log != nil {
			log.Error("register model with the score store", "version", rm.GetVersion(), "err", err)
		}
	}
}
