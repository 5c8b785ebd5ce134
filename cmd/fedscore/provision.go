package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
	"github.com/fedscore/fedscore/secure/pki"
)

// listFlag is a flag that may be given many times.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, splitList(v)...); return nil }

type identityFlags struct {
	participants, scientists, services, admins, helpers listFlag
}

func addIdentityFlags(fs *flag.FlagSet, f *identityFlags) {
	fs.Var(&f.participants, "participant", "a participant identity (repeatable)")
	fs.Var(&f.scientists, "scientist", "a data scientist identity (repeatable)")
	fs.Var(&f.services, "service", "a wallet service: credit or marketing (repeatable)")
	fs.Var(&f.admins, "admin", "an operator identity (repeatable)")
	fs.Var(&f.helpers, "helper", "a vertical-federation helper identity (repeatable)")
}

func (f *identityFlags) identities() ([]pki.Identity, error) {
	var ids []pki.Identity
	add := func(names []string, role pki.Role) {
		for _, n := range names {
			ids = append(ids, pki.Identity{Name: n, Role: role})
		}
	}
	add(f.participants, pki.Participant)
	add(f.scientists, pki.Scientist)
	add(f.admins, pki.Admin)
	add(f.helpers, pki.Helper)
	for _, s := range f.services {
		switch s {
		case "credit":
			ids = append(ids, pki.Identity{Name: "credit", Role: pki.Credit})
		case "marketing":
			ids = append(ids, pki.Identity{Name: "marketing", Role: pki.Marketing})
		default:
			return nil, fmt.Errorf("provision: unknown service %q (credit, marketing)", s)
		}
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if err := id.Validate(); err != nil {
			return nil, err
		}
		if seen[id.Name] {
			return nil, fmt.Errorf("provision: identity %q named twice", id.Name)
		}
		seen[id.Name] = true
	}
	return ids, nil
}

func runProvision(args []string) error {
	if len(args) > 0 && args[0] == "add" {
		return provisionAdd(args[1:])
	}
	fs := newFlags("provision", "provision --out DIR --coordinator HOST[:PORT] --participant NAME... --scientist NAME... [--service credit|marketing] [--admin NAME]\n       fedscore provision add --out DIR --participant NAME ...")
	out := fs.String("out", "", "directory for the CA and the startup kits (required)")
	server := fs.String("coordinator", "127.0.0.1:7070", "the coordinator's address as participants will dial it")
	var idf identityFlags
	addIdentityFlags(fs, &idf)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("provision: --out is required")
	}
	ids, err := idf.identities()
	if err != nil {
		return err
	}
	caDir := filepath.Join(*out, "ca")
	if _, err := os.Stat(filepath.Join(caDir, "ca.pem")); err == nil {
		return fmt.Errorf("provision: %s already holds a CA; use 'fedscore provision add' to issue more kits", caDir)
	}
	ca, err := pki.NewCA("fedscore federation CA", pki.Options{})
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.PEM()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(caDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(caDir, "ca.pem"), certPEM, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(caDir, "ca-key.pem"), keyPEM, 0o600); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*server)
	if err != nil {
		host = *server
		*server = net.JoinHostPort(host, "7070")
	}
	coordinator := pki.Identity{Name: "coordinator", Role: pki.Coordinator}
	if err := issueKit(ca, certPEM, *out, coordinator, *server, []string{host, "127.0.0.1", "localhost"}); err != nil {
		return err
	}
	for _, id := range ids {
		if err := issueKit(ca, certPEM, *out, id, *server, nil); err != nil {
			return err
		}
	}
	fmt.Printf("CA in %s (keep ca-key.pem offline); kits for coordinator and %d identities in %s\n", caDir, len(ids), *out)
	return nil
}

func issueKit(ca *pki.CA, caPEM []byte, out string, id pki.Identity, server string, hosts []string) error {
	iss, err := ca.Issue(id, hosts, pki.Options{})
	if err != nil {
		return err
	}
	k, err := pki.WriteKit(out, id, server, iss, caPEM)
	if err != nil {
		return err
	}
	fmt.Printf("  %-14s %-18s %s (valid until %s)\n", id.Name, id.Role, k.Dir, iss.Cert.NotAfter.Format("2006-01-02"))
	return nil
}

func provisionAdd(args []string) error {
	fs := newFlags("provision add", "provision add --out DIR [--participant NAME] [--scientist NAME] ...")
	out := fs.String("out", "", "the directory 'fedscore provision' wrote (required)")
	server := fs.String("coordinator", "", "the coordinator's address (default: from its kit)")
	var idf identityFlags
	addIdentityFlags(fs, &idf)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("provision add: --out is required")
	}
	ids, err := idf.identities()
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return errors.New("provision add: name at least one identity")
	}
	certPEM, err := os.ReadFile(filepath.Join(*out, "ca", "ca.pem"))
	if err != nil {
		return fmt.Errorf("provision add: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(*out, "ca", "ca-key.pem"))
	if err != nil {
		return fmt.Errorf("provision add: %w", err)
	}
	ca, err := pki.ParseCA(certPEM, keyPEM)
	if err != nil {
		return err
	}
	if *server == "" {
		if k, err := pki.LoadKit(filepath.Join(*out, "coordinator")); err == nil {
			*server = k.Server
		}
	}
	for _, id := range ids {
		if _, err := os.Stat(filepath.Join(*out, id.Name)); err == nil {
			return fmt.Errorf("provision add: a kit for %q already exists", id.Name)
		}
		if err := issueKit(ca, certPEM, *out, id, *server, nil); err != nil {
			return err
		}
	}
	return nil
}

func runAdmin(args []string) error {
	return subcommands("admin", args, map[string]command{
		"revoke":       {"revoke an identity now, without restarting the coordinator", adminRevoke},
		"participants": {"list participants, connected or last seen", adminParticipants},
		"models":       {"list the model registry", adminModels},
		"promote":      {"make a model version the champion", adminPromote},
		"rollback":     {"make the previous champion the champion again", adminRollback},
	})
}

func adminRevoke(args []string) error {
	fs := newFlags("admin revoke", "admin revoke NAME [--reason TEXT]")
	cf := addConnFlags(fs)
	reason := fs.String("reason", "", "why, for the audit log")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("admin revoke: give one identity name")
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := fedscoregrpc.NewAdminClient(conn).RevokeIdentity(ctx, &fedscorepb.RevokeIdentityRequest{Name: fs.Arg(0), Reason: *reason})
	if err != nil {
		return err
	}
	fmt.Printf("revoked: %s\n", strings.Join(res.GetRevoked(), ", "))
	return nil
}

func adminParticipants(args []string) error {
	fs := newFlags("admin participants", "admin participants")
	cf := addConnFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := fedscoregrpc.NewAdminClient(conn).ListParticipants(ctx, &fedscorepb.ListParticipantsRequest{})
	if err != nil {
		return err
	}
	fmt.Printf("%-16s %-10s %s\n", "PARTICIPANT", "CONNECTED", "LAST SEEN")
	for _, p := range res.GetParticipants() {
		fmt.Printf("%-16s %-10v %s\n", p.GetId(), p.GetConnected(), p.GetLastSeen().AsTime().Format(time.RFC3339))
	}
	return nil
}

func runAudit(args []string) error {
	return subcommands("audit", args, map[string]command{
		"verify": {"check an audit log's hash chain", auditVerify},
	})
}

func auditVerify(args []string) error {
	fs := newFlags("audit verify", "audit verify FILE")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("audit verify: give one file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := audit.Verify(f)
	if err != nil {
		return fmt.Errorf("%s: %w (the %d records before it verify)", fs.Arg(0), err, n)
	}
	fmt.Printf("%s: %d records, chain intact\n", fs.Arg(0), n)
	return nil
}

func runConsole(args []string) error {
	return subcommands("console", args, map[string]command{
		"login": {"print a one-time login link to the web console for your kit's identity", consoleLogin},
	})
}

func consoleLogin(args []string) error {
	fs := newFlags("console login", "console login --kit DIR")
	cf := addConnFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := fedscoregrpc.NewConsoleClient(conn).Login(ctx, &fedscorepb.ConsoleLoginRequest{})
	if err != nil {
		return err
	}
	fmt.Println(res.GetUrl())
	fmt.Fprintf(os.Stderr, "valid once, until %s\n", res.GetExpires().AsTime().Local().Format(time.Kitchen))
	return nil
}

func registryCall(name string, args []string, positional int, call func(ctx context.Context, r fedscoregrpc.RegistryClient, args []string) error) error {
	fs := newFlags("admin "+name, "admin "+name)
	cf := addConnFlags(fs)
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != positional {
		return fmt.Errorf("admin %s: expected %d argument(s)", name, positional)
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return call(ctx, fedscoregrpc.NewRegistryClient(conn), fs.Args())
}

func printRegistered(m *fedscorepb.RegisteredModel) {
	v := m.GetModel().GetValidation()
	champ := ""
	if m.GetChampion() {
		champ = "champion"
	}
	fmt.Printf("%-6s %-10s %-34s auc %.4f  ks %.4f  %s\n", m.GetVersion(), m.GetKind(), m.GetJobId(), v.GetAuc(), v.GetKs(), champ)
}

func adminModels(args []string) error {
	return registryCall("models", args, 0, func(ctx context.Context, r fedscoregrpc.RegistryClient, _ []string) error {
		res, err := r.ListModels(ctx, &fedscorepb.ListModelsRequest{})
		if err != nil {
			return err
		}
		for _, m := range res.GetVersions() {
			printRegistered(m)
		}
		return nil
	})
}

func adminPromote(args []string) error {
	return registryCall("promote", args, 1, func(ctx context.Context, r fedscoregrpc.RegistryClient, a []string) error {
		m, err := r.PromoteModel(ctx, &fedscorepb.PromoteModelRequest{Version: a[0]})
		if err != nil {
			return err
		}
		printRegistered(m)
		return nil
	})
}

func adminRollback(args []string) error {
	return registryCall("rollback", args, 0, func(ctx context.Context, r fedscoregrpc.RegistryClient, _ []string) error {
		m, err := r.RollbackModel(ctx, &fedscorepb.RollbackModelRequest{})
		if err != nil {
			return err
		}
		printRegistered(m)
		return nil
	})
}
