package coordinator

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// relayInbox is what waits for one party of one session.
type relayInbox struct {
	ch     chan *fedscorepb.RelayEnvelope
	joined bool
}

// relay routes envelopes between the parties of a session.
type relay struct {
	mu       sync.Mutex
	sessions map[string]map[string]*relayInbox
}

func (r *relay) inbox(session, party string) *relayInbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions == nil {
		r.sessions = map[string]map[string]*relayInbox{}
	}
	s := r.sessions[session]
	if s == nil {
		s = map[string]*relayInbox{}
		r.sessions[session] = s
	}
	in := s[party]
	if in == nil {
		// Buffered so a fast sender does not wait for a peer that has not
		// joined yet; a peer that never joins leaves the sender blocked
		// until its own stream ends.
		in = &relayInbox{ch: make(chan *fedscorepb.RelayEnvelope, 4096)}
		s[party] = in
	}
	return in
}

func (r *relay) leave(session, party string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.sessions[session]; s != nil {
		delete(s, party)
		if len(s) == 0 {
			delete(r.sessions, session)
		}
	}
}

// Exchange implements fedscorepb.RelayServer.
func (co *Coordinator) Exchange(stream grpc.BidiStreamingServer[fedscorepb.RelayEnvelope, fedscorepb.RelayEnvelope]) error {
	who, _ := IdentityFrom(stream.Context())
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	session := first.GetSession()
	if session == "" || len(session) > 256 {
		return status.Error(codes.InvalidArgument, "coordinator: relay: the first envelope must name a session")
	}
	me := who.Name
	if co.cfg.Insecure && first.GetFrom() != "" {
		me = first.GetFrom() // nobody is authenticated; take the node's word
	}
	in := co.relay.inbox(session, me)
	co.relay.mu.Lock()
	if in.joined {
		co.relay.mu.Unlock()
		return status.Errorf(codes.AlreadyExists, "coordinator: relay: %s already joined session %q", me, session)
	}
	in.joined = true
	co.relay.mu.Unlock()
	defer co.relay.leave(session, me)
	co.audit(audit.Record{Actor: me, Role: string(who.Role), Action: "relay.join", Object: session})

	errc := make(chan error, 2)
	forward := func(env *fedscorepb.RelayEnvelope) error {
		if env.GetTo() == "" || env.GetTo() == me {
			return status.Error(codes.InvalidArgument, "coordinator: relay: envelope without a peer")
		}
		out := &fedscorepb.RelayEnvelope{Session: session, From: me, To: env.GetTo(), Payload: env.GetPayload(), End: env.GetEnd()}
		select {
		case co.relay.inbox(session, env.GetTo()).ch <- out:
			co.metrics.bytesIn.WithLabelValues("relay").Add(float64(len(env.GetPayload())))
			return nil
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
	go func() {
		if first.GetTo() != "" {
			if err := forward(first); err != nil {
				errc <- err
				return
			}
		}
		for {
			env, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			if env.GetSession() != "" && env.GetSession() != session {
				errc <- status.Error(codes.InvalidArgument, fmt.Sprintf("coordinator: relay: envelope for session %q on a stream of %q", env.GetSession(), session))
				return
			}
			if err := forward(env); err != nil {
				errc <- err
				return
			}
		}
	}()
	for {
		select {
		case env := <-in.ch:
			if err := stream.Send(env); err != nil {
				return err
			}
		case err := <-errc:
			if err != nil && status.Code(err) != codes.Canceled && !errors.Is(err, io.EOF) {
				return err
			}
			return nil
		case <-co.ctx.Done():
			return status.Error(codes.Unavailable, "coordinator: shutting down")
		}
	}
}
