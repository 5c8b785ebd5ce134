// Command fedscore is the one binary of fedscore: the coordinator, the
// participant node, the data scientist's job client, data tools and the
// one-command federated experiment (simulate). Flags become Config structs
// here and nowhere else.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"golang.org/x/term"
)

type command struct {
	summary string
	run     func(args []string) error
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"coordinator": {"run the coordinator (participants and data scientists connect to it)", runCoordinator},
		"participant": {"run a participant node on local data", runParticipant},
		"job":         {"submit, watch, get, list and cancel jobs; fetch a job's model", runJob},
		"data":        {"synthesize, import and split datasets", runData},
		"simulate":    {"run a whole federated experiment in one process and compare with pooled training (--vertical: split by columns between a bank and a partner)", runSimulate},
		"provision":   {"create a CA and startup kits (certificate, key, config) for every identity", runProvision},
		"admin":       {"operator actions: revoke an identity, list participants", runAdmin},
		"audit":       {"verify an audit log", runAudit},
		"bench":       {"benchmarks that print figures as tables or JSON", runBench},
		"report":      {"write a finished job's HTML model report with charts", runReport},
		"console":     {"log in to the web console the coordinator serves on --http", runConsole},
		"vertical":    {"one party (bank, partner or helper) of vertical training through the coordinator", runVertical},
		"helper":      {"the vertical helper node: deals correlated randomness, sees no data", runHelper},
		"psi":         {"align customers with a partner by private set intersection, through the coordinator", runPSI},
		"score":       {"score your own customers with a registered model and publish the results (a participant)", runScore},
		"scores":      {"query scores, export tiers, list model versions (the score store)", runScores},
	}
}

func main() {
	if err := dispatch(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "fedscore:", err)
		os.Exit(1)
	}
}

func dispatch(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(os.Stdout)
		if len(args) == 0 {
			return errors.New("no command given")
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		usage(os.Stderr)
		return fmt.Errorf("unknown command %q", args[0])
	}
	return c.run(args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "fedscore: federated credit scoring and customer tiering\n\nUsage: fedscore COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'fedscore COMMAND --help' for a command's flags.")
}

// newFlags returns a flag set whose --help prints a synopsis and the flags.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: fedscore %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// subcommands dispatches the second word of commands like "job submit".
func subcommands(name string, args []string, subs map[string]command) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Printf("Usage: fedscore %s SUBCOMMAND [flags]\n\nSubcommands:\n", name)
		keys := make([]string, 0, len(subs))
		for k := range subs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Printf("  %-8s %s\n", k, subs[k].summary)
		}
		if len(args) == 0 {
			return fmt.Errorf("%s: no subcommand given", name)
		}
		return nil
	}
	c, ok := subs[args[0]]
	if !ok {
		return fmt.Errorf("%s: unknown subcommand %q", name, args[0])
	}
	return c.run(args[1:])
}

// newLogger logs text on a terminal and JSON lines otherwise, so that
// machines get structure and people get something readable.
func newLogger(level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if term.IsTerminal(int(os.Stderr.Fd())) {
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
