package pki

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Kit is one identity's startup kit on disk, like NVFLARE's: its
// certificate and key, the federation's CA certificate, and a ready-to-run
// config. A partner receives its kit and runs one command.
type Kit struct {
	Dir    string `json:"-"`
	Name   string `json:"name"`
	Role   Role   `json:"role"`
	Server string `json:"coordinator"` // the coordinator's address
	Cert   string `json:"cert"`
	Key    string `json:"key"`
	CA     string `json:"ca"`
}

// Kit file names inside a kit directory.
const (
	KitConfig = "kit.json"
	kitCert   = "cert.pem"
	kitKey    = "key.pem"
	kitCA     = "ca.pem"
)

// WriteKit writes a kit for an issued identity into dir/name.
func WriteKit(dir string, id Identity, server string, issued *Issued, caCertPEM []byte) (*Kit, error) {
	kd := filepath.Join(dir, id.Name)
	if err := os.MkdirAll(kd, 0o700); err != nil {
		return nil, err
	}
	k := &Kit{Dir: kd, Name: id.Name, Role: id.Role, Server: server, Cert: kitCert, Key: kitKey, CA: kitCA}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{kitCert, issued.CertPEM, 0o644},
		{kitKey, issued.KeyPEM, 0o600},
		{kitCA, caCertPEM, 0o644},
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(kd, f.name), f.data, f.mode); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	return k, os.WriteFile(filepath.Join(kd, KitConfig), append(b, '\n'), 0o644)
}

// LoadKit reads a kit directory.
func LoadKit(dir string) (*Kit, error) {
	b, err := os.ReadFile(filepath.Join(dir, KitConfig))
	if err != nil {
		return nil, fmt.Errorf("pki: kit %s: %w", dir, err)
	}
	k := &Kit{}
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("pki: kit %s: %w", dir, err)
	}
	k.Dir = dir
	if err := (Identity{Name: k.Name, Role: k.Role}).Validate(); err != nil {
		return nil, fmt.Errorf("pki: kit %s: %w", dir, err)
	}
	if k.Cert == "" || k.Key == "" || k.CA == "" {
		return nil, errors.New("pki: kit " + dir + " lacks cert, key or ca")
	}
	return k, nil
}

// Identity is who the kit speaks for.
func (k *Kit) Identity() Identity { return Identity{Name: k.Name, Role: k.Role} }

func (k *Kit) read(name string) ([]byte, error) {
	if !filepath.IsAbs(name) {
		name = filepath.Join(k.Dir, name)
	}
	return os.ReadFile(name)
}

// PEMs returns the kit's certificate, key and CA certificate.
func (k *Kit) PEMs() (cert, key, ca []byte, err error) {
	if cert, err = k.read(k.Cert); err != nil {
		return
	}
	if key, err = k.read(k.Key); err != nil {
		return
	}
	ca, err = k.read(k.CA)
	return
}
