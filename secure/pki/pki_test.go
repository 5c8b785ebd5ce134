package pki

import (
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestIssueAndRead(t *testing.T) {
	ca, err := NewCA("test CA", Options{})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := ca.Issue(Identity{Name: "partner-1", Role: Participant}, []string{"127.0.0.1", "node.example"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := iss.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("issued certificate does not verify: %v", err)
	}
	id, err := FromCertificate(iss.Cert)
	if err != nil || id != (Identity{Name: "partner-1", Role: Participant}) {
		t.Fatalf("identity %v, %v", id, err)
	}
	if len(iss.Cert.IPAddresses) != 1 || len(iss.Cert.DNSNames) != 1 {
		t.Fatalf("hosts not in the certificate: %v %v", iss.Cert.IPAddresses, iss.Cert.DNSNames)
	}
	// A CA saved and read back issues certificates the same root verifies.
	certPEM, keyPEM, err := ca.PEM()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseCA(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	iss2, err := again.Issue(Identity{Name: "alice", Role: Scientist}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss2.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("certificate from the reloaded CA: %v", err)
	}
}

func TestIdentityValidation(t *testing.T) {
	ca, _ := NewCA("test CA", Options{})
	bad := []Identity{
		{Name: "", Role: Participant},
		{Name: "Bank", Role: Participant},
		{Name: "a b", Role: Participant},
		{Name: "bank", Role: "superuser"},
	}
	for _, id := range bad {
		if _, err := ca.Issue(id, nil, Options{}); err == nil {
			t.Errorf("issued for invalid identity %+v", id)
		}
	}
	if _, err := ca.Issue(Identity{Name: "x", Role: "root"}, nil, Options{}); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("unknown role err = %v", err)
	}
	// A certificate without a fedscore identity is not one.
	if _, err := FromCertificate(ca.Cert); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("CA certificate read as identity: %v", err)
	}
}

func TestExpiredCertificateFailsVerification(t *testing.T) {
	ca, _ := NewCA("test CA", Options{})
	iss, err := ca.Issue(Identity{Name: "old", Role: Participant}, nil, Options{Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }, Validity: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	if _, err := iss.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("expired certificate verified")
	}
}

func TestKitRoundTrip(t *testing.T) {
	dir := t.TempDir()
	ca, _ := NewCA("test CA", Options{})
	caPEM, _, _ := ca.PEM()
	iss, _ := ca.Issue(Identity{Name: "bank", Role: Participant}, nil, Options{})
	if _, err := WriteKit(dir, Identity{Name: "bank", Role: Participant}, "coord.example:7070", iss, caPEM); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKit(filepath.Join(dir, "bank"))
	if err != nil {
		t.Fatal(err)
	}
	if k.Identity() != (Identity{Name: "bank", Role: Participant}) || k.Server != "coord.example:7070" {
		t.Fatalf("kit %+v", k)
	}
	cert, key, ca2, err := k.PEMs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ClientTLS(cert, key, ca2); err != nil {
		t.Fatal(err)
	}
	if _, err := ServerTLS(cert, key, ca2, nil); err != nil {
		t.Fatal(err)
	}
	info, _ := os.Stat(filepath.Join(dir, "bank", "key.pem"))
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", info.Mode().Perm())
	}
	if _, err := LoadKit(filepath.Join(dir, "nobody")); err == nil {
		t.Fatal("loaded a kit that does not exist")
	}
}
