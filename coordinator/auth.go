package coordinator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Policy maps full gRPC method names (or a service prefix ending in "/")
// to the roles allowed to call them. A method no entry covers is refused.
type Policy map[string][]pki.Role

// DefaultPolicy is who may do what in a federation.
var DefaultPolicy = Policy{
	"/fedscore.v1.Federation/Connect":            {pki.Participant},
	"/fedscore.v1.Jobs/SubmitJob":                {pki.Scientist},
	"/fedscore.v1.Jobs/CancelJob":                {pki.Scientist, pki.Admin},
	"/fedscore.v1.Jobs/GetJob":                   {pki.Scientist, pki.Admin},
	"/fedscore.v1.Jobs/ListJobs":                 {pki.Scientist, pki.Admin},
	"/fedscore.v1.Jobs/WatchJob":                 {pki.Scientist, pki.Admin},
	"/fedscore.v1.Jobs/GetModel":                 {pki.Scientist, pki.Admin},
	"/fedscore.v1.Jobs/ResumeJob":                {pki.Scientist, pki.Admin},
	"/fedscore.v1.Vertical/":                     {pki.Participant, pki.Helper},
	"/fedscore.v1.Admin/":                        {pki.Admin},
	"/fedscore.v1.Console/Login":                 pki.Roles,
	"/fedscore.v1.Relay/Exchange":                {pki.Participant, pki.Helper},
	"/fedscore.v1.Scores/GetScore":               {pki.Credit, pki.Scientist, pki.Admin},
	"/fedscore.v1.Scores/BatchGetScores":         {pki.Credit, pki.Scientist, pki.Admin},
	"/fedscore.v1.Scores/GetScoreHistory":        {pki.Credit, pki.Scientist, pki.Admin},
	"/fedscore.v1.Scores/PublishScores":          {pki.Participant},
	"/fedscore.v1.Scores/ListModelVersions":      {pki.Scientist, pki.Admin, pki.Credit, pki.Marketing},
	"/fedscore.v1.Scores/RegisterModelVersion":   {pki.Admin},
	"/fedscore.v1.Scores/PromoteModelVersion":    {pki.Admin},
	"/arrow.flight.protocol.FlightService/":      {pki.Marketing},
	"/fedscore.v1.Registry/ListModels":           {pki.Scientist, pki.Admin, pki.Credit, pki.Marketing},
	"/fedscore.v1.Registry/GetRegisteredModel":   {pki.Scientist, pki.Admin, pki.Credit, pki.Marketing, pki.Participant},
	"/fedscore.v1.Registry/PromoteModel":         {pki.Admin},
	"/fedscore.v1.Registry/RollbackModel":        {pki.Admin},
	"/grpc.health.v1.Health/":                    pki.Roles,
	"/grpc.reflection.v1.ServerReflection/":      pki.Roles,
	"/grpc.reflection.v1alpha.ServerReflection/": pki.Roles,
}

// Allowed returns the roles that may call method.
func (p Policy) Allowed(method string) []pki.Role {
	if r, ok := p[method]; ok {
		return r
	}
	if i := strings.LastIndex(method, "/"); i > 0 {
		return p[method[:i+1]]
	}
	return nil
}

// Errors of authentication and authorisation.
var (
	ErrUnauthenticated = errors.New("coordinator: no verified client certificate")
	ErrRevoked         = errors.New("coordinator: identity revoked")
	ErrDenied          = errors.New("coordinator: permission denied")
	ErrTooManyStreams  = errors.New("coordinator: too many concurrent streams for this identity")
)

type identityKey struct{}

// insecureIdentity is every caller when the coordinator runs with
// --insecure: nobody is authenticated, so nobody is refused.
var insecureIdentity = pki.Identity{Name: "insecure", Role: ""}

// IdentityFrom returns the caller's identity as the interceptors verified it.
func IdentityFrom(ctx context.Context) (pki.Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(pki.Identity)
	return id, ok
}

// guard authenticates every call from its TLS client certificate and
// authorises it against the policy, auditing refusals.
type guard struct {
	co       *Coordinator
	insecure bool
	policy   Policy
	// maxStreams caps concurrent streams per identity, so one node cannot
	// exhaust the coordinator.
	maxStreams int

	mu      sync.Mutex
	streams map[string]int
	revoked map[string]string
}

func peerIdentity(ctx context.Context) (pki.Identity, error) {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return pki.Identity{}, ErrUnauthenticated
	}
	tlsInfo, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(tlsInfo.State.VerifiedChains) == 0 || len(tlsInfo.State.VerifiedChains[0]) == 0 {
		return pki.Identity{}, ErrUnauthenticated
	}
	return pki.FromCertificate(tlsInfo.State.VerifiedChains[0][0])
}

// check returns the caller's identity, or a gRPC status error.
func (g *guard) check(ctx context.Context, method string) (pki.Identity, error) {
	if g.insecure {
		return insecureIdentity, nil
	}
	id, err := peerIdentity(ctx)
	if err != nil {
		g.deny(pki.Identity{Name: "unknown"}, method, err)
		return id, status.Error(codes.Unauthenticated, err.Error())
	}
	g.mu.Lock()
	reason, revoked := g.revoked[id.Name]
	g.mu.Unlock()
	if revoked {
		err := fmt.Errorf("%w: %s (%s)", ErrRevoked, id.Name, reason)
		g.deny(id, method, err)
		return id, status.Error(codes.Unauthenticated, err.Error())
	}
	if !slices.Contains(g.policy.Allowed(method), id.Role) {
		err := fmt.Errorf("%w: %s may not call %s", ErrDenied, id, method)
		g.deny(id, method, err)
		return id, status.Error(codes.PermissionDenied, err.Error())
	}
	return id, nil
}

func (g *guard) deny(id pki.Identity, method string, err error) {
	reason := "denied"
	switch {
	case errors.Is(err, ErrUnauthenticated):
		reason = "unauthenticated"
	case errors.Is(err, ErrRevoked):
		reason = "revoked"
	case errors.Is(err, ErrTooManyStreams):
		reason = "too_many_streams"
	}
	g.co.metrics.refused.WithLabelValues(reason).Inc()
	g.co.log.Warn("request refused", "identity", id.String(), "method", method, "err", err)
	g.co.audit(audit.Record{Actor: id.Name, Role: string(id.Role), Action: "request.denied", Object: method, Outcome: "denied", Detail: err.Error()})
}

func (g *guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	id, err := g.check(ctx, info.FullMethod)
	if err != nil {
		return nil, err
	}
	// A participant publishes scores only under its own name.
	if p, ok := req.(*fedscorepb.PublishScoresRequest); ok && !g.insecure && p.GetParticipantId() != id.Name {
		err := fmt.Errorf("%w: %s may not publish scores as %q", ErrDenied, id, p.GetParticipantId())
		g.deny(id, info.FullMethod, err)
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	return handler(context.WithValue(ctx, identityKey{}, id), req)
}

type identifiedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s identifiedStream) Context() context.Context { return s.ctx }

func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	id, err := g.check(ss.Context(), info.FullMethod)
	if err != nil {
		return err
	}
	if !g.insecure {
		g.mu.Lock()
		if g.streams[id.Name] >= g.maxStreams {
			g.mu.Unlock()
			err := fmt.Errorf("%w (%d)", ErrTooManyStreams, g.maxStreams)
			g.deny(id, info.FullMethod, err)
			return status.Error(codes.ResourceExhausted, err.Error())
		}
		g.streams[id.Name]++
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.streams[id.Name]--
			g.mu.Unlock()
		}()
	}
	return handler(srv, identifiedStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), identityKey{}, id)})
}

// ServerOptions are the interceptors a coordinator's gRPC server needs.
func (co *Coordinator) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(co.guard.unary), grpc.ChainStreamInterceptor(co.guard.stream)}
}

// revoke turns an identity away from now on and ends its streams.
func (g *guard) revoke(name, reason string) {
	g.mu.Lock()
	g.revoked[name] = reason
	g.mu.Unlock()
}

// isRevoked is what the TLS handshake consults, by certificate name.
func (g *guard) isRevoked(name string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.revoked[name]
	return ok
}

// HTTPGuard admits an HTTP request only with a verified client certificate
// of one of the given roles (or anyone, when the coordinator runs
// insecure), and audits refusals, as the gRPC interceptors do.
func HTTPGuard(co *Coordinator, h http.Handler, roles ...pki.Role) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if co.cfg.Insecure {
			h.ServeHTTP(w, r)
			return
		}
		var id pki.Identity
		err := ErrUnauthenticated
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
			id, err = pki.FromCertificate(r.TLS.VerifiedChains[0][0])
		}
		code := http.StatusUnauthorized
		switch {
		case err != nil:
		case co.IsRevoked(id.Name):
			err = fmt.Errorf("%w: %s", ErrRevoked, id.Name)
		case !slices.Contains(roles, id.Role):
			err, code = fmt.Errorf("%w: %s may not call %s", ErrDenied, id, r.URL.Path), http.StatusForbidden
		}
		if err != nil {
			co.guard.deny(id, "HTTP "+r.Method+" "+r.URL.Path, err)
			http.Error(w, err.Error(), code)
			return
		}
		h.ServeHTTP(w, r)
	})
}
