// Package faults is fedscore's fault and bad-input suite: crashes of the
// coordinator and of participants at every phase, slow and cut-off
// networks, bad certificates, malformed messages and bad files. make
// faults runs it and prints a table; make test runs it too.
package faults

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/fedscore/fedscore/coordinator"
	"github.com/fedscore/fedscore/coordinator/store"
	"google.golang.org/grpc"
)

// The test binary doubles as a coordinator process, so that a test can
// SIGKILL a real coordinator and start it again on the same store.
const roleEnv = "FEDSCORE_FAULTS_ROLE"

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) == "coordinator" {
		if err := coordinatorChild(os.Getenv("FEDSCORE_FAULTS_STORE"), os.Getenv("FEDSCORE_FAULTS_ADDR")); err != nil {
			fmt.Fprintln(os.Stderr, "coordinator child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func coordinatorChild(storePath, addr string) error {
	st, err := store.OpenBolt(storePath)
	if err != nil {
		return err
	}
	defer st.Close()
	co, err := coordinator.New(coordinator.Config{Store: st, Insecure: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer(co.ServerOptions()...)
	co.Register(srv)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() { <-ctx.Done(); co.Close(); srv.Stop() }()
	if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
