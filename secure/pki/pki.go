// Package pki provisions fedscore's identities: a certificate authority and
// one certificate per identity, each naming who it is (the subject's common
// name) and what it may do (its role, in the organisational unit). Every
// connection in a federation is mutual TLS between certificates of one CA,
// so the coordinator knows which participant, scientist or service is
// speaking without taking anyone's word for it.
//
// Keys are ECDSA P-256 from the standard library's crypto/ecdsa; nothing
// here implements a primitive.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"regexp"
	"time"
)

// Role is what an identity may do.
type Role string

// Roles.
const (
	Coordinator Role = "coordinator"
	Participant Role = "participant"
	Scientist   Role = "scientist"
	Credit      Role = "credit-service"
	Marketing   Role = "marketing-service"
	Admin       Role = "admin"
	Helper      Role = "helper"
)

// Roles lists every role, for validation and help texts.
var Roles = []Role{Coordinator, Participant, Scientist, Credit, Marketing, Admin, Helper}

// Errors.
var (
	ErrBadName     = errors.New("pki: invalid identity name")
	ErrUnknownRole = errors.New("pki: unknown role")
	ErrNoIdentity  = errors.New("pki: certificate carries no fedscore identity")
)

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Identity is who a certificate speaks for.
type Identity struct {
	Name string
	Role Role
}

func (id Identity) String() string { return string(id.Role) + ":" + id.Name }

// Validate checks the name and role.
func (id Identity) Validate() error {
	if !validName.MatchString(id.Name) {
		return fmt.Errorf("%w %q: use 1-63 lower-case letters, digits, '.', '_' or '-'", ErrBadName, id.Name)
	}
	for _, r := range Roles {
		if id.Role == r {
			return nil
		}
	}
	return fmt.Errorf("%w %q", ErrUnknownRole, id.Role)
}

// FromCertificate reads the identity a certificate was issued for.
func FromCertificate(c *x509.Certificate) (Identity, error) {
	if len(c.Subject.OrganizationalUnit) != 1 {
		return Identity{}, ErrNoIdentity
	}
	id := Identity{Name: c.Subject.CommonName, Role: Role(c.Subject.OrganizationalUnit[0])}
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrNoIdentity, err)
	}
	return id, nil
}

// CA is a certificate authority with its key.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Options tune issuance; zero values mean the defaults.
type Options struct {
	Rand     io.Reader        // crypto/rand
	Now      func() time.Time // time.Now
	Validity time.Duration    // one year for identities, ten for the CA
}

func (o Options) resolve(def time.Duration) (io.Reader, time.Time, time.Duration) {
	r := o.Rand
	if r == nil {
		r = rand.Reader
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	v := o.Validity
	if v == 0 {
		v = def
	}
	return r, now, v
}

func serial(r io.Reader) (*big.Int, error) {
	return rand.Int(r, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA creates a self-signed authority for one federation.
func NewCA(name string, o Options) (*CA, error) {
	r, now, validity := o.resolve(10 * 365 * 24 * time.Hour)
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, err
	}
	sn, err := serial(r)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"fedscore"}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(r, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issued is a certificate with its private key, PEM-encoded.
type Issued struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
}

// Issue signs a certificate for id. hosts (DNS names or IPs) are added for
// identities that serve (the coordinator, the score service).
func (ca *CA) Issue(id Identity, hosts []string, o Options) (*Issued, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	r, now, validity := o.resolve(365 * 24 * time.Hour)
	key, err := ecdsa.GenerateKey(elliptic.P256(), r)
	if err != nil {
		return nil, err
	}
	sn, err := serial(r)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: id.Name, OrganizationalUnit: []string{string(id.Role)}, Organization: []string{"fedscore"}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(r, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Issued{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		Cert:    cert,
	}, nil
}

// PEM returns the CA's certificate and key.
func (ca *CA) PEM() (certPEM, keyPEM []byte, err error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// ParseCA reads a CA saved with PEM.
func ParseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, errors.New("pki: CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !cert.IsCA {
		return nil, errors.New("pki: not a CA certificate and key")
	}
	return &CA{Cert: cert, Key: signer}, nil
}

// Revoked answers whether a certificate has been revoked; the
// coordinator's answer can change while it runs.
type Revoked func(cert *x509.Certificate) bool

// ServerTLS is the configuration of a serving identity: it requires a
// client certificate from the same CA and, if revoked is set, refuses
// revoked ones at the handshake.
func ServerTLS(certPEM, keyPEM, caPEM []byte, revoked Revoked) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: key pair: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("pki: CA certificate is not PEM")
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS13,
	}
	if revoked != nil {
		cfg.VerifyPeerCertificate = func(_ [][]byte, chains [][]*x509.Certificate) error {
			for _, chain := range chains {
				if len(chain) > 0 && revoked(chain[0]) {
					return fmt.Errorf("pki: certificate %s (serial %x) is revoked", chain[0].Subject.CommonName, chain[0].SerialNumber)
				}
			}
			return nil
		}
	}
	return cfg, nil
}

// ClientTLS is the configuration of a connecting identity: it presents its
// certificate and trusts only the federation's CA.
func ClientTLS(certPEM, keyPEM, caPEM []byte) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("pki: key pair: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("pki: CA certificate is not PEM")
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS13}, nil
}
