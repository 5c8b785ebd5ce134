package faults

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

func startAudited(t *testing.T) (*federation.Federation, string) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.jsonl")
	al, err := audit.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { al.Close() })
	files, _ := federationFiles(t, 1, 1000, 1)
	fed, err := federation.Start(federation.Options{Participants: files, Audit: al})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fed.Close)
	return fed, logPath
}

func dialWith(t *testing.T, addr string, cfg *tls.Config) *grpc.ClientConn {
	t.Helper()
	opt := grpc.WithTransportCredentials(insecure.NewCredentials())
	if cfg != nil {
		opt = grpc.WithTransportCredentials(credentials.NewTLS(cfg))
	}
	conn, err := grpc.NewClient(addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// connectAs opens a federation stream and says Hello as id; it returns the
// status code of the first reply.
func connectAs(t *testing.T, conn *grpc.ClientConn, id string) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := fedscoregrpc.NewFederationClient(conn).Connect(ctx)
	if err != nil {
		return status.Code(err)
	}
	if err := st.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Hello{Hello: &fedscorepb.Hello{ParticipantId: id}}}); err != nil {
		_, err = st.Recv()
		return status.Code(err)
	}
	_, err = st.Recv()
	return status.Code(err)
}

func submitCode(t *testing.T, conn *grpc.ClientConn) codes.Code {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := fedscoregrpc.NewJobsClient(conn).SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: &fedscorepb.JobSpec{
		Label: "default", Features: []string{"age"}, Participants: []string{"bank", "partner"},
	}})
	return status.Code(err)
}

// Every connection is authenticated and every role kept to its own: each
// refusal carries the expected code and leaves an audit record.
func authenticationAndRoles(t *testing.T) {
	fed, logPath := startAudited(t)
	ca, caPEM := fed.CA()
	issue := func(id pki.Identity, o pki.Options) *tls.Config {
		iss, err := ca.Issue(id, nil, o)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pki.ClientTLS(iss.CertPEM, iss.KeyPEM, caPEM)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	other, _ := pki.NewCA("someone else's CA", pki.Options{})
	strangerIss, _ := other.Issue(pki.Identity{Name: "bank", Role: pki.Participant}, nil, pki.Options{})
	strangerCfg, _ := pki.ClientTLS(strangerIss.CertPEM, strangerIss.KeyPEM, caPEM) // trusts our CA, presents theirs
	noCert := &tls.Config{RootCAs: issue(pki.Identity{Name: "x", Role: pki.Admin}, pki.Options{}).RootCAs, MinVersion: tls.VersionTLS13}
	expired := issue(pki.Identity{Name: "partner", Role: pki.Participant}, pki.Options{Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }, Validity: time.Hour})

	tests := []struct {
		name string
		run  func() codes.Code
		want codes.Code
	}{
		{"scientist submits", func() codes.Code {
			return submitCode(t, dialWith(t, fed.Addr, issue(pki.Identity{Name: "alice", Role: pki.Scientist}, pki.Options{})))
		}, codes.OK},
		{"participant's certificate used to submit a job", func() codes.Code {
			return submitCode(t, dialWith(t, fed.Addr, issue(pki.Identity{Name: "partner", Role: pki.Participant}, pki.Options{})))
		}, codes.PermissionDenied},
		{"scientist's certificate used to join as a participant", func() codes.Code {
			return connectAs(t, dialWith(t, fed.Addr, issue(pki.Identity{Name: "alice", Role: pki.Scientist}, pki.Options{})), "alice")
		}, codes.PermissionDenied},
		{"participant speaking for another", func() codes.Code {
			return connectAs(t, dialWith(t, fed.Addr, issue(pki.Identity{Name: "partner", Role: pki.Participant}, pki.Options{})), "bank")
		}, codes.PermissionDenied},
		{"unknown certificate (another CA)", func() codes.Code { return submitCode(t, dialWith(t, fed.Addr, strangerCfg)) }, codes.Unavailable},
		{"expired certificate", func() codes.Code { return connectAs(t, dialWith(t, fed.Addr, expired), "partner") }, codes.Unavailable},
		{"no client certificate", func() codes.Code { return submitCode(t, dialWith(t, fed.Addr, noCert)) }, codes.Unavailable},
		{"plaintext client", func() codes.Code { return submitCode(t, dialWith(t, fed.Addr, nil)) }, codes.Unavailable},
		{"admin may not submit", func() codes.Code {
			return submitCode(t, dialWith(t, fed.Addr, issue(pki.Identity{Name: "ops", Role: pki.Admin}, pki.Options{})))
		}, codes.PermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.run(); got != tc.want {
				t.Fatalf("code %v, want %v", got, tc.want)
			}
		})
	}
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := audit.Verify(strings.NewReader(string(b))); err != nil || n == 0 {
		t.Fatalf("audit log: %d records, %v", n, err)
	}
	log := string(b)
	for _, want := range []string{`"action":"job.submit"`, `"actor":"partner","role":"participant","action":"request.denied"`, `"actor":"alice","role":"scientist","action":"request.denied"`} {
		if !strings.Contains(log, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

// Revoking an identity takes effect at once, without a restart: its open
// stream ends and it cannot come back.
func revocationWithoutRestart(t *testing.T) {
	fed, logPath := startAudited(t)
	ca, caPEM := fed.CA()
	iss, _ := ca.Issue(pki.Identity{Name: "partner", Role: pki.Participant}, nil, pki.Options{})
	partnerCfg, _ := pki.ClientTLS(iss.CertPEM, iss.KeyPEM, caPEM)
	adminConn, err := fed.DialAs(pki.Identity{Name: "ops", Role: pki.Admin})
	if err != nil {
		t.Fatal(err)
	}
	defer adminConn.Close()

	// partner holds an open stream.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := fedscoregrpc.NewFederationClient(dialWith(t, fed.Addr, partnerCfg)).Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.Send(&fedscorepb.ParticipantMessage{Body: &fedscorepb.ParticipantMessage_Hello{Hello: &fedscorepb.Hello{ParticipantId: "partner"}}})
	if m, err := st.Recv(); err != nil || m.GetWelcome() == nil {
		t.Fatalf("partner not welcomed: %v %v", m, err)
	}
	// Only an admin may revoke.
	_, err = fedscoregrpc.NewAdminClient(dialWith(t, fed.Addr, issueTLS(t, fed, pki.Identity{Name: "alice", Role: pki.Scientist}))).RevokeIdentity(ctx, &fedscorepb.RevokeIdentityRequest{Name: "partner"})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("scientist revoking: %v", err)
	}
	if _, err := fedscoregrpc.NewAdminClient(adminConn).RevokeIdentity(ctx, &fedscorepb.RevokeIdentityRequest{Name: "partner", Reason: "contract ended"}); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := st.Recv()
		if err != nil {
			break // the open stream was ended
		}
	}
	if code := connectAs(t, dialWith(t, fed.Addr, partnerCfg), "partner"); code != codes.Unavailable && code != codes.Unauthenticated {
		t.Fatalf("revoked partner reconnecting: %v", code)
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), `"action":"identity.revoke","object":"partner"`) {
		t.Fatal("revocation not audited")
	}
}

func issueTLS(t *testing.T, fed *federation.Federation, id pki.Identity) *tls.Config {
	t.Helper()
	ca, caPEM := fed.CA()
	iss, err := ca.Issue(id, nil, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pki.ClientTLS(iss.CertPEM, iss.KeyPEM, caPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
