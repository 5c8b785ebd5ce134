package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"os"

	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// connFlags are how a command authenticates: a provisioned kit (mutual
// TLS, the default) or an explicit --insecure.
type connFlags struct {
	kit      string
	insecure bool
	addr     string
}

// addConnFlags registers --kit, --insecure and --coordinator.
func addConnFlags(fs *flag.FlagSet) *connFlags {
	c := &connFlags{}
	fs.StringVar(&c.kit, "kit", os.Getenv("FEDSCORE_KIT"), "startup kit directory from 'fedscore provision' (or $FEDSCORE_KIT)")
	fs.BoolVar(&c.insecure, "insecure", false, "no TLS and no authentication (development only)")
	fs.StringVar(&c.addr, "coordinator", "", "coordinator address (default: the kit's, or 127.0.0.1:7070)")
	return c
}

var errNoKit = errors.New("no --kit given: run with a startup kit from 'fedscore provision', or pass --insecure explicitly")

func (c *connFlags) loadKit() (*pki.Kit, error) {
	if c.kit == "" {
		return nil, errNoKit
	}
	return pki.LoadKit(c.kit)
}

// address is the coordinator to dial.
func (c *connFlags) address() string {
	if c.addr != "" {
		return c.addr
	}
	if k, err := c.loadKit(); err == nil && k.Server != "" {
		return k.Server
	}
	return "127.0.0.1:7070"
}

// dialOptions are the client's transport credentials and defaults.
func (c *connFlags) dialOptions() ([]grpc.DialOption, error) {
	opts := clientOptions()
	if c.insecure {
		return append(opts, grpc.WithTransportCredentials(insecure.NewCredentials())), nil
	}
	k, err := c.loadKit()
	if err != nil {
		return nil, err
	}
	cert, key, ca, err := k.PEMs()
	if err != nil {
		return nil, err
	}
	cfg, err := pki.ClientTLS(cert, key, ca)
	if err != nil {
		return nil, err
	}
	return append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg))), nil
}

// serverCreds are a serving identity's credentials; revoked is consulted at
// every handshake.
func (c *connFlags) serverCreds(revoked func(name string) bool) (grpc.ServerOption, *pki.Kit, error) {
	if c.insecure {
		return nil, nil, nil
	}
	k, err := c.loadKit()
	if err != nil {
		return nil, nil, err
	}
	cert, key, ca, err := k.PEMs()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := pki.ServerTLS(cert, key, ca, func(x *x509.Certificate) bool { return revoked != nil && revoked(x.Subject.CommonName) })
	if err != nil {
		return nil, nil, err
	}
	return grpc.Creds(credentials.NewTLS(cfg)), k, nil
}
