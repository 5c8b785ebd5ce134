package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/coordinator/helper"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// relayInbox is what waits for one party of one session.
type relayInbox struct {
	ch     chan *fedscorepb.RelayEnvelope
	joined bool
}

// relaySession is one session's inboxes, and its abort signal: when a
// vertical job fails, the parties still in its session are told at once
// rather than left waiting for a peer that has gone.
type relaySession struct {
	inboxes map[string]*relayInbox
	aborted chan struct{}
	reason  string
}

// relay routes envelopes between the parties of a session. Sessions are
// kept by key: a vertical attempt's key names the attempt (relayKey), so
// that an envelope a party of an ended attempt sends late never reaches
// the next attempt's parties.
type relay struct {
	mu       sync.Mutex
	sessions map[string]*relaySession
	// dead holds the keys of aborted sessions, with the reason: nothing
	// may join or be delivered in them any more.
	dead map[string]string
}

// relayKey is the relay's key of attempt n of a vertical job's training
// session.
func relayKey(job string, n uint32) string { return fmt.Sprintf("%s#%d", job, n) }

// relayAdmission is what a party joins: the relay's key of the session,
// the vertical attempt (0 outside one) and the attempt's watch (nil
// outside one).
type relayAdmission struct {
	key     string
	attempt uint32
	watch   *attemptWatch
}

func (r *relay) sessionLocked(name string) *relaySession {
	if r.sessions == nil {
		r.sessions = map[string]*relaySession{}
	}
	s := r.sessions[name]
	if s == nil {
		s = &relaySession{inboxes: map[string]*relayInbox{}, aborted: make(chan struct{})}
		r.sessions[name] = s
	}
	return s
}

// inbox returns party's inbox in session, nil if the session was aborted.
func (r *relay) inbox(session, party string) *relayInbox {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dead := r.dead[session]; dead {
		return nil
	}
	s := r.sessionLocked(session)
	in := s.inboxes[party]
	if in == nil {
		// Buffered so a fast sender does not wait for a peer that has not
		// joined yet; a peer that never joins leaves the sender blocked
		// until its own stream ends.
		in = &relayInbox{ch: make(chan *fedscorepb.RelayEnvelope, 4096)}
		s.inboxes[party] = in
	}
	return in
}

// join claims party's inbox in session, and returns the session's abort
// signal.
func (r *relay) join(session, party string) (*relayInbox, *relaySession, error) {
	in := r.inbox(session, party)
	r.mu.Lock()
	defer r.mu.Unlock()
	if reason, dead := r.dead[session]; dead || in == nil {
		return nil, nil, status.Errorf(codes.Aborted, "coordinator: relay: session %q was aborted: %s", session, reason)
	}
	if in.joined {
		return nil, nil, status.Errorf(codes.AlreadyExists, "coordinator: relay: %s already joined session %q", party, session)
	}
	s := r.sessionLocked(session)
	select {
	case <-s.aborted:
		return nil, nil, status.Errorf(codes.Aborted, "coordinator: relay: session %q was aborted: %s", session, s.reason)
	default:
	}
	in.joined = true
	return in, s, nil
}

// leave removes party's inbox, unless a later join has replaced it.
func (r *relay) leave(session, party string, in *relayInbox) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := r.sessions[session]; s != nil && s.inboxes[party] == in {
		delete(s.inboxes, party)
		if len(s.inboxes) == 0 {
			delete(r.sessions, session)
		}
	}
}

// abort ends every stream of the session with reason, and forgets the
// session; its key stays dead (a resumed job's attempt has another).
func (r *relay) abort(session, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dead == nil {
		r.dead = map[string]string{}
	}
	r.dead[session] = reason
	if s := r.sessions[session]; s != nil {
		s.reason = reason
		close(s.aborted)
		delete(r.sessions, session)
	}
}

// forward delivers env from me to its addressee in session (the relay's
// key a.key), telling the attempt's watch.
func (co *Coordinator) forward(ctx context.Context, a relayAdmission, session, me string, env *fedscorepb.RelayEnvelope) (err error) {
	if env.GetTo() == "" || env.GetTo() == me {
		return status.Error(codes.InvalidArgument, "coordinator: relay: envelope without a peer")
	}
	in := co.relay.inbox(a.key, env.GetTo())
	if in == nil {
		return status.Errorf(codes.Aborted, "coordinator: relay: session %q was aborted", session)
	}
	done := a.watch.sending(me)
	defer func() { done(err == nil) }()
	out := &fedscorepb.RelayEnvelope{Session: session, From: me, To: env.GetTo(), Payload: env.GetPayload(), End: env.GetEnd()}
	select {
	case in.ch <- out:
		co.metrics.bytesIn.WithLabelValues("relay").Add(float64(len(env.GetPayload())))
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exchange implements fedscoregrpc.RelayServer.
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
	// A vertical job's sessions admit only the job's parties, and only
	// while an attempt runs.
	adm, err := co.admitRelay(session, me, who)
	if err != nil {
		return err
	}
	attempt := adm.attempt
	in, sess, err := co.relay.join(adm.key, me)
	if err != nil {
		return err
	}
	defer co.relay.leave(adm.key, me, in)
	adm.watch.joined(me)
	defer adm.watch.left(me)
	co.audit(audit.Record{Actor: me, Role: string(who.Role), Action: "relay.join", Object: session})

	errc := make(chan error, 2)
	go func() {
		if first.GetTo() != "" {
			if err := co.forward(stream.Context(), adm, session, me, first); err != nil {
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
			if err := co.forward(stream.Context(), adm, session, me, env); err != nil {
				errc <- err
				return
			}
		}
	}()
	for {
		select {
		case env := <-in.ch:
			if err := stream.Send(env); err != nil {
				co.relayLeft(session, me, attempt, err)
				return err
			}
		case err := <-errc:
			// A party that closes its side (io.EOF) has finished; any other
			// end is a drop.
			if errors.Is(err, io.EOF) {
				co.relayLeft(session, me, attempt, nil)
				return nil
			}
			if err == nil {
				err = errors.New("stream ended")
			}
			co.relayLeft(session, me, attempt, err)
			if status.Code(err) == codes.Canceled {
				return nil
			}
			return err
		case <-sess.aborted:
			return status.Errorf(codes.Aborted, "coordinator: relay: session %q aborted: %s", session, sess.reason)
		case <-co.ctx.Done():
			co.relayLeft(session, me, attempt, errors.New("coordinator shutting down"))
			return status.Error(codes.Unavailable, "coordinator: shutting down")
		}
	}
}

// localStream is a relay party inside the coordinator (the in-process
// vertical helper): the same session, inboxes and abort as a gRPC party.
type localStream struct {
	co      *Coordinator
	ctx     context.Context
	session string
	adm     relayAdmission
	me      string
	in      *relayInbox
	sess    *relaySession

	once sync.Once
	done chan struct{} // closed by CloseSend
}

var _ helper.Stream = (*localStream)(nil)

func (co *Coordinator) localRelay(ctx context.Context, session, me string, adm relayAdmission) (*localStream, error) {
	in, sess, err := co.relay.join(adm.key, me)
	if err != nil {
		return nil, err
	}
	adm.watch.joined(me)
	co.audit(audit.Record{Actor: "coordinator", Role: "coordinator", Action: "relay.join", Object: session, Detail: "in-process " + me})
	return &localStream{co: co, ctx: ctx, session: session, adm: adm, me: me, in: in, sess: sess, done: make(chan struct{})}, nil
}

// Send implements helper.Stream.
func (l *localStream) Send(env *fedscorepb.RelayEnvelope) error {
	select {
	case <-l.sess.aborted:
		return status.Errorf(codes.Aborted, "coordinator: relay: session %q aborted: %s", l.session, l.sess.reason)
	default:
	}
	ctx, cancel := context.WithCancel(l.ctx)
	defer cancel()
	go func() {
		select {
		case <-l.sess.aborted:
			cancel()
		case <-ctx.Done():
		}
	}()
	return l.co.forward(ctx, l.adm, l.session, l.me, env)
}

// Recv implements helper.Stream: io.EOF once the party has closed its
// side, as the relay closes a gRPC party's stream.
func (l *localStream) Recv() (*fedscorepb.RelayEnvelope, error) {
	select {
	case <-l.done:
		return nil, io.EOF
	default:
	}
	select {
	case <-l.done:
		return nil, io.EOF
	case env := <-l.in.ch:
		return env, nil
	case <-l.sess.aborted:
		return nil, status.Errorf(codes.Aborted, "coordinator: relay: session %q aborted: %s", l.session, l.sess.reason)
	case <-l.ctx.Done():
		return nil, l.ctx.Err()
	}
}

// CloseSend implements helper.Stream: the party has finished and leaves.
func (l *localStream) CloseSend() error {
	l.once.Do(func() {
		close(l.done)
		l.leave(nil)
	})
	return nil
}

// fail leaves the session as a dropped party would.
func (l *localStream) fail(err error) {
	l.once.Do(func() {
		close(l.done)
		l.leave(err)
	})
}

func (l *localStream) leave(err error) {
	l.co.relay.leave(l.adm.key, l.me, l.in)
	l.adm.watch.left(l.me)
	l.co.relayLeft(l.session, l.me, l.adm.attempt, err)
}
