// Package federation starts a whole federation in one process: a real
// coordinator serving gRPC on a loopback port and real participant nodes
// dialling it. fedscore simulate, the benchmarks and the integration tests
// all use it, so the same code path is exercised everywhere.
package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/coordinator/store"
	"github.com/fedscore/fedscore/participant"
	"google.golang.org/grpc"
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
}

// Federation is a running coordinator with its participants.
type Federation struct {
	Addr        string
	Coordinator *coordinator.Coordinator
	Jobs        fedscorepb.JobsClient

	server *grpc.Server
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
}

// Start brings up the coordinator and every participant.
func Start(o Options) (*Federation, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Store == nil {
		o.Store = store.NewMemory()
	}
	co, err := coordinator.New(coordinator.Config{Store: o.Store, Log: o.Log.With("role", "coordinator")})
	if err != nil {
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		co.Close()
		return nil, fmt.Errorf("federation: listen: %w", err)
	}
	srv := grpc.NewServer(o.ServerOptions...)
	co.Register(srv)
	f := &Federation{Addr: lis.Addr().String(), Coordinator: co, server: srv, errs: make(chan error, len(o.Participants)+1)}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			f.errs <- err
		}
	}()
	f.conn, err = grpc.NewClient(f.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		f.Close()
		return nil, err
	}
	f.Jobs = fedscorepb.NewJobsClient(f.conn)

	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	ids := make([]string, 0, len(o.Participants))
	for id := range o.Participants {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		node, err := participant.New(participant.Config{
			ID: id, Coordinator: f.Addr, Data: o.Participants[id],
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
			Log:         o.Log.With("role", "participant"),
			MinBackoff:  50 * time.Millisecond, MaxBackoff: time.Second,
		})
		if err != nil {
			f.Close()
			return nil, err
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if err := node.Run(ctx); err != nil {
				f.errs <- err
			}
		}()
	}
	return f, nil
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
func Watch(ctx context.Context, jobs fedscorepb.JobsClient, id string, progress func(*fedscorepb.Job)) (*fedscorepb.Job, error) {
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
	f.server.Stop()
}
