package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/internal/federation"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/scores"
	"golang.org/x/term"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func runJob(args []string) error {
	return subcommands("job", args, map[string]command{
		"submit": {"submit a training job", jobSubmit},
		"watch":  {"follow a job's progress until it ends", jobWatch},
		"get":    {"print a job as JSON", jobGet},
		"list":   {"list jobs", jobList},
		"cancel": {"cancel a running job", jobCancel},
		"resume": {"resume a failed vertical job from its parties' checkpoints", jobResume},
		"model":  {"print a finished job's model as JSON", jobModel},
		"report": {"evaluate a finished job's model on a local test file, optionally next to a pooled baseline", jobReport},
		"score":  {"have participants score their customers with a registered model and publish the scores", jobScore},
	})
}

func dialJobs(cf *connFlags) (fedscoregrpc.JobsClient, *grpc.ClientConn, error) {
	conn, err := dial(cf)
	if err != nil {
		return nil, nil, err
	}
	return fedscoregrpc.NewJobsClient(conn), conn, nil
}

func dial(cf *connFlags) (*grpc.ClientConn, error) {
	opts, err := cf.dialOptions()
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(cf.address(), opts...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cf.address(), err)
	}
	return conn, nil
}

var jsonOut = protojson.MarshalOptions{Multiline: true, Indent: "  ", EmitUnpopulated: false}

func printProto(m proto.Message) error {
	b, err := jsonOut.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Println(string(b))
	return err
}

func jobSubmit(args []string) error {
	fs := newFlags("job submit", "job submit [--spec FILE.json] [--label COL --features A,B | --features-from FILE] [flags]")
	cf := addConnFlags(fs)
	specFile := fs.String("spec", "", "job spec as JSON (fields of fedscore.v1.JobSpec); flags override it")
	name := fs.String("name", "", "job name")
	model := fs.String("model", "", "logistic (default), scorecard or softmax")
	positive := fs.String("positive", "", "scorecard: label value meaning the event, for a text label")
	classes := fs.Uint("classes", 0, "softmax: number of classes")
	tiers := fs.Uint("tiers", 0, "scorecard: score-band tiers (default 5)")
	propensity := fs.Bool("propensity", false, "scorecard: tier A holds the highest probabilities")
	label := fs.String("label", "", "label column")
	id := fs.String("id", "", "id column")
	feats := fs.String("features", "", "comma-separated feature columns, in model order")
	featsFrom := fs.String("features-from", "", "take every numeric column of this local file (except id and label) as features")
	parts := fs.String("participants", "", "comma-separated participant ids allowed to join (empty: any)")
	minP := fs.Uint("min-participants", 0, "quorum per phase (default: all listed participants)")
	rounds := fs.Uint("rounds", 0, "training rounds (default 10)")
	epochs := fs.Uint("local-epochs", 0, "local epochs per round (default 1)")
	batch := fs.Uint("batch-size", 0, "local mini-batch size (default 64)")
	lr := fs.Float64("learning-rate", 0, "local learning rate (default 0.01)")
	l2 := fs.Float64("l2", 0, "L2 penalty (default 1e-4)")
	strat := fs.String("strategy", "", "fedavg or fedprox")
	mu := fs.Float64("prox-mu", 0, "FedProx proximal coefficient")
	timeout := fs.Duration("phase-timeout", 0, "how long a phase waits for participants (default 2m)")
	seed := fs.Uint64("seed", 0, "seed for local splits and shuffling")
	watch := fs.Bool("watch", false, "follow the job until it ends")
	plain := fs.Bool("plain-aggregation", false, "turn secure aggregation off (for comparison only)")
	vf := addVerticalFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	spec := &fedscorepb.JobSpec{}
	if *specFile != "" {
		b, err := os.ReadFile(*specFile)
		if err != nil {
			return err
		}
		if err := protojson.Unmarshal(b, spec); err != nil {
			return fmt.Errorf("spec %s: %w", *specFile, err)
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["name"] {
		spec.Name = *name
	}
	if set["model"] {
		spec.Model = *model
	}
	if set["positive"] {
		spec.PositiveLabel = *positive
	}
	if set["classes"] {
		spec.Classes = uint32(*classes)
	}
	if set["tiers"] {
		spec.Tiers = uint32(*tiers)
	}
	if set["propensity"] {
		spec.Propensity = *propensity
	}
	if set["label"] {
		spec.Label = *label
	}
	if set["id"] {
		spec.IdColumn = *id
	}
	if set["features"] {
		spec.Features = splitList(*feats)
	}
	if *featsFrom != "" {
		f, err := featureColumns(*featsFrom, spec.GetIdColumn(), spec.GetLabel(), spec.GetModel() == "scorecard" || spec.GetModel() == "softmax")
		if err != nil {
			return err
		}
		spec.Features = f
	}
	if set["participants"] {
		spec.Participants = splitList(*parts)
	}
	if set["min-participants"] {
		spec.MinParticipants = uint32(*minP)
	}
	if set["rounds"] {
		spec.Rounds = uint32(*rounds)
	}
	if set["local-epochs"] {
		spec.LocalEpochs = uint32(*epochs)
	}
	if set["batch-size"] {
		spec.BatchSize = uint32(*batch)
	}
	if set["learning-rate"] {
		spec.LearningRate = *lr
	}
	if set["l2"] {
		spec.L2 = *l2
	}
	if set["strategy"] {
		spec.Strategy = *strat
	}
	if set["prox-mu"] {
		spec.ProxMu = *mu
	}
	if set["phase-timeout"] {
		spec.PhaseTimeoutMs = uint32(timeout.Milliseconds())
	}
	if set["seed"] {
		spec.Seed = *seed
	}
	if set["plain-aggregation"] {
		spec.PlainAggregation = *plain
	}
	if err := vf.apply(spec, set); err != nil {
		return err
	}
	jobs, conn, err := dialJobs(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	job, err := jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: spec})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	fmt.Fprintf(os.Stderr, "submitted %s\n", job.GetId())
	if !*watch {
		fmt.Println(job.GetId())
		return nil
	}
	return watchAndReport(ctx, jobs, job.GetId(), os.Stdout)
}

// featureColumns lists a local file's columns other than id and label (the
// numeric ones only, unless the model bins text too), so a data scientist
// need not type twenty column names.
func featureColumns(path, id, label string, text bool) ([]string, error) {
	t, err := datasets.ReadTable(path)
	if err != nil {
		return nil, err
	}
	if text {
		var out []string
		for _, c := range t.Columns {
			if c.Name != id && c.Name != label {
				out = append(out, c.Name)
			}
		}
		return out, nil
	}
	f, err := federation.NumericFeatures(t, id, label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func jobWatch(args []string) error {
	fs := newFlags("job watch", "job watch JOB_ID")
	cf := addConnFlags(fs)
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("job watch: give one job id")
	}
	jobs, conn, err := dialJobs(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	return watchAndReport(ctx, jobs, fs.Arg(0), os.Stdout)
}

func watchAndReport(ctx context.Context, jobs fedscoregrpc.JobsClient, id string, w io.Writer) error {
	p := newProgress(w)
	job, err := federation.Watch(ctx, jobs, id, p.update)
	p.done()
	if err != nil {
		return err
	}
	printSummary(w, job)
	if job.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return fmt.Errorf("job %s %s: %s", id, stateName(job.GetState()), job.GetError())
	}
	return nil
}

func stateName(s fedscorepb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

// progress shows a job's advance: a redrawn bar on a terminal, one line per
// change otherwise (logs and CI read those).
type progress struct {
	w        io.Writer
	tty      bool
	lastLine string
	drawn    bool
}

func newProgress(w io.Writer) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	return &progress{w: w, tty: tty}
}

func (p *progress) update(j *fedscorepb.Job) {
	spec := j.GetSpec()
	total := int(spec.GetRounds())
	done := len(j.GetRounds())
	if v := j.GetVertical(); v != nil {
		// A vertical job's rounds are the protocol's iterations.
		total, done = int(v.GetIterations()), int(v.GetIteration())
	}
	var loss, auc string
	if n := len(j.GetRounds()); n > 0 {
		r := j.GetRounds()[n-1]
		loss = fmt.Sprintf("loss %.4f", r.GetTrainLoss())
		for i := n - 1; i >= 0; i-- {
			if v := j.GetRounds()[i].GetValidation(); v != nil {
				auc = fmt.Sprintf("auc %.4f (r%d)", v.GetAuc(), j.GetRounds()[i].GetRound())
				break
			}
		}
	}
	status := fmt.Sprintf("%-9s %-5s round %d/%d  participants %d/%d  %s  %s",
		stateName(j.GetState()), j.GetPhase(), j.GetRound(), total, j.GetAnswered(), len(j.GetCohort()), loss, auc)
	if v := j.GetVertical(); v != nil {
		status = fmt.Sprintf("%-9s %s  iteration %d/%d  attempt %d  joined %s", stateName(j.GetState()), j.GetPhase(),
			v.GetIteration(), v.GetIterations(), v.GetAttempt(), strings.Join(v.GetJoined(), ","))
	}
	if p.tty {
		width := 24
		filled := 0
		if total > 0 {
			filled = width * done / total
		}
		bar := strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
		fmt.Fprintf(p.w, "\r\033[K[%s] %s", bar, status)
		p.drawn = true
		return
	}
	// Off a terminal, one line per phase change: a log reader wants the
	// rounds, not every participant's answer.
	key := fmt.Sprintf("%s/%s/%d", j.GetState(), j.GetPhase(), j.GetRound())
	if key != p.lastLine {
		fmt.Fprintf(p.w, "%s  %s\n", time.Now().Format("15:04:05"), status)
		p.lastLine = key
	}
}

func (p *progress) done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

func printSummary(w io.Writer, j *fedscorepb.Job) {
	fmt.Fprintf(w, "job %s: %s", j.GetId(), stateName(j.GetState()))
	if j.GetError() != "" {
		fmt.Fprintf(w, " (%s)", j.GetError())
	}
	fmt.Fprintln(w)
	for _, r := range j.GetRounds() {
		v := r.GetValidation()
		fmt.Fprintf(w, "  round %2d  participants %d  dropped %d  train_loss %.4f  val_auc %.4f  val_ks %.4f\n",
			r.GetRound(), len(r.GetParticipants()), len(r.GetDropped()), r.GetTrainLoss(), v.GetAuc(), v.GetKs())
	}
	if v := j.GetVertical(); v != nil {
		fmt.Fprintf(w, "  vertical: iteration %d of %d, attempt %d (from iteration %d)", v.GetIteration(), v.GetIterations(), v.GetAttempt(), v.GetStart())
		if v.GetFailedParty() != "" {
			fmt.Fprintf(w, ", dropped: %s", v.GetFailedParty())
		}
		fmt.Fprintln(w)
		if v.GetBankModel() != "" {
			fmt.Fprintf(w, "  halves of the model (never at the coordinator): %s, %s\n", v.GetBankModel(), v.GetPartnerModel())
		}
	}
	if m := j.GetModel(); m != nil {
		v := m.GetValidation()
		fmt.Fprintf(w, "model: %d features, validation auc %.4f ks %.4f logloss %.4f on %d rows\n",
			len(m.GetFeatures()), v.GetAuc(), v.GetKs(), v.GetLogloss(), v.GetExamples())
	}
}

func oneJobCommand(name string, call func(ctx context.Context, jobs fedscoregrpc.JobsClient, id string) (proto.Message, error)) func([]string) error {
	return func(args []string) error {
		fs := newFlags("job "+name, "job "+name+" JOB_ID")
		cf := addConnFlags(fs)
		if err := fs.Parse(reorder(args)); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("job %s: give one job id", name)
		}
		jobs, conn, err := dialJobs(cf)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m, err := call(ctx, jobs, fs.Arg(0))
		if err != nil {
			return err
		}
		return printProto(m)
	}
}

var (
	jobGet = oneJobCommand("get", func(ctx context.Context, jobs fedscoregrpc.JobsClient, id string) (proto.Message, error) {
		return jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: id})
	})
	jobCancel = oneJobCommand("cancel", func(ctx context.Context, jobs fedscoregrpc.JobsClient, id string) (proto.Message, error) {
		return jobs.CancelJob(ctx, &fedscorepb.CancelJobRequest{JobId: id})
	})
	jobModel = oneJobCommand("model", func(ctx context.Context, jobs fedscoregrpc.JobsClient, id string) (proto.Message, error) {
		return jobs.GetModel(ctx, &fedscorepb.GetJobRequest{JobId: id})
	})
)

func jobList(args []string) error {
	fs := newFlags("job list", "job list [--json]")
	cf := addConnFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	jobs, conn, err := dialJobs(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := jobs.ListJobs(ctx, &fedscorepb.ListJobsRequest{})
	if err != nil {
		return err
	}
	if *asJSON {
		return printProto(res)
	}
	fmt.Printf("%-34s %-10s %-6s %-8s %s\n", "ID", "STATE", "PHASE", "ROUND", "VAL_AUC")
	for _, j := range res.GetJobs() {
		auc := "-"
		if m := j.GetModel(); m != nil {
			auc = fmt.Sprintf("%.4f", m.GetValidation().GetAuc())
		}
		total := uint64(j.GetSpec().GetRounds())
		if v := j.GetVertical(); v != nil {
			total = v.GetIterations()
		}
		fmt.Printf("%-34s %-10s %-6s %3d/%-4d %s\n", j.GetId(), stateName(j.GetState()), j.GetPhase(), j.GetRound(), total, auc)
	}
	return nil
}

func jobReport(args []string) error {
	fs := newFlags("job report", "job report JOB_ID --test FILE [--pooled FILE,FILE,...]")
	cf := addConnFlags(fs)
	testFile := fs.String("test", "", "local test table with the job's label and features (required)")
	pooledFiles := fs.String("pooled", "", "train the same model centrally on the union of these files, as a baseline")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *testFile == "" {
		fs.Usage()
		return errors.New("job report: give one job id and --test")
	}
	jobs, conn, err := dialJobs(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	job, err := jobs.GetJob(ctx, &fedscorepb.GetJobRequest{JobId: fs.Arg(0)})
	if err != nil {
		return err
	}
	if job.GetModel() == nil {
		return fmt.Errorf("job report: job %s has no model (%s)", job.GetId(), stateName(job.GetState()))
	}
	spec := job.GetSpec()
	schema := datasets.Schema{ID: spec.GetIdColumn(), Label: spec.GetLabel(), Features: spec.GetFeatures()}
	test, err := datasets.LoadFrame(*testFile, schema)
	if err != nil {
		return err
	}
	m, st, err := federation.ModelFromProto(job.GetModel())
	if err != nil {
		return err
	}
	fed, err := federation.Evaluate(m, st, test)
	if err != nil {
		return err
	}
	fmt.Printf("test set %s: %d rows, %d positives\n", *testFile, fed.N, fed.Positives)
	fmt.Printf("%-10s %8s %8s %8s\n", "", "AUC", "KS", "logloss")
	fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "federated", fed.AUC, fed.KS, fed.LogLoss)
	if *pooledFiles == "" {
		return nil
	}
	var union *datasets.Table
	for _, f := range splitList(*pooledFiles) {
		t, err := datasets.ReadTable(f)
		if err != nil {
			return err
		}
		if union, err = datasets.Concat(union, t); err != nil {
			return err
		}
	}
	pm, pst, err := federation.TrainPooled(union, schema, *pooledFiles, spec)
	if err != nil {
		return err
	}
	pooled, err := federation.Evaluate(pm, pst, test)
	if err != nil {
		return err
	}
	fmt.Printf("%-10s %8.4f %8.4f %8.4f\n", "pooled", pooled.AUC, pooled.KS, pooled.LogLoss)
	fmt.Printf("federated - pooled AUC: %+.4f\n", fed.AUC-pooled.AUC)
	return nil
}

// reorder moves flags before positional arguments, so "job report ID --test F"
// works as well as "job report --test F ID".
func reorder(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
			if !strings.Contains(a, "=") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

func jobScore(args []string) error {
	fs := newFlags("job score", "job score --participants A,B --id COL [--model VERSION] [--reasons N] [--watch]")
	cf := addConnFlags(fs)
	version := fs.String("model", "", "registered model version (default: the champion)")
	parts := fs.String("participants", "", "participants that score their customers (required)")
	id := fs.String("id", "", "customer id column in the participants' data (required)")
	reasons := fs.Uint("reasons", 3, "reason codes per customer")
	watch := fs.Bool("watch", false, "follow the job until it ends")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *parts == "" || *id == "" {
		fs.Usage()
		return errors.New("job score: --participants and --id are required")
	}
	jobs, conn, err := dialJobs(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	job, err := jobs.SubmitJob(ctx, &fedscorepb.SubmitJobRequest{Spec: &fedscorepb.JobSpec{
		Name: "score", Model: "score", ScoreVersion: *version, Participants: splitList(*parts), IdColumn: *id, Reasons: uint32(*reasons),
	}})
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	fmt.Fprintf(os.Stderr, "scoring job %s with model %s\n", job.GetId(), job.GetSpec().GetScoreVersion())
	if !*watch {
		fmt.Println(job.GetId())
		return nil
	}
	final, err := federation.Watch(ctx, jobs, job.GetId(), nil)
	if err != nil {
		return err
	}
	if final.GetState() != fedscorepb.JobState_JOB_STATE_SUCCEEDED {
		return fmt.Errorf("scoring job %s %s: %s", final.GetId(), stateName(final.GetState()), final.GetError())
	}
	r := final.GetRounds()[0]
	fmt.Printf("scoring job %s: %d scores published by %v with model %s\n", final.GetId(), r.GetExamples(), r.GetParticipants(), final.GetSpec().GetScoreVersion())
	return nil
}

// runScore is a participant scoring its own customers by hand: it fetches
// a registered model, scores the local file, and publishes the results.
func runScore(args []string) error {
	fs := newFlags("score", "score --kit DIR --data FILE --id COL [--model VERSION] [--reasons N] [--dry-run]")
	cf := addConnFlags(fs)
	data := fs.String("data", "", "local customer table, .parquet or .csv (required)")
	id := fs.String("id", "", "customer id column (required)")
	version := fs.String("model", "", "registered model version (default: the champion)")
	reasons := fs.Int("reasons", 3, "reason codes per customer")
	dry := fs.Bool("dry-run", false, "score and print a summary, publish nothing")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *id == "" {
		fs.Usage()
		return errors.New("score: --data and --id are required")
	}
	k, err := cf.loadKit()
	if err != nil && !cf.insecure {
		return err
	}
	name := "local"
	if k != nil {
		name = k.Name
	}
	conn, err := dial(cf)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, stop := signalContext()
	defer stop()
	rm, err := fedscoregrpc.NewRegistryClient(conn).GetRegisteredModel(ctx, &fedscorepb.GetRegisteredModelRequest{Version: *version})
	if err != nil {
		return fmt.Errorf("score: model: %w", err)
	}
	plan, err := program.NewScorePlan("manual-"+time.Now().UTC().Format("20060102T150405"), rm, *reasons)
	if err != nil {
		return err
	}
	node, err := participant.New(participant.Config{ID: name, Coordinator: cf.address(), Data: *data})
	if err != nil {
		return err
	}
	start := time.Now()
	rows, sc, err := node.ScoreTable(plan, *id)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "scored %d customers with %s in %.2fs\n", len(rows), rm.GetVersion(), time.Since(start).Seconds())
	if *dry {
		return nil
	}
	n, err := scores.PublishAll(ctx, scores.NewClient(conn), sc.Plan.Batch+"/"+name, rm.GetVersion(), name, rows)
	if err != nil {
		return err
	}
	fmt.Printf("published %d scores under model %s\n", n, rm.GetVersion())
	return nil
}
