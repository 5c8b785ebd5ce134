package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/features"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/models/eval"
	"github.com/fedscore/fedscore/report"
)

func runReport(args []string) error {
	fs := newFlags("report", "report JOB_ID --out DIR [--test FILE]")
	cf := addConnFlags(fs)
	out := fs.String("out", "", "directory for index.html and its charts (required)")
	testFile := fs.String("test", "", "a local test table: charts from it instead of the federated validation summary")
	if err := fs.Parse(reorder(args)); err != nil {
		return err
	}
	if fs.NArg() != 1 || *out == "" {
		fs.Usage()
		return errors.New("report: give one job id and --out")
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
	m := job.GetModel()
	if m == nil {
		return fmt.Errorf("report: job %s has no model (%s)", job.GetId(), stateName(job.GetState()))
	}
	r := report.Report{
		Title: "fedscore model report: " + job.GetSpec().GetName(), JobID: job.GetId(), Model: m.GetKind(),
		Generated: time.Now().UTC().Format(time.RFC3339), MetricColumns: []string{"federated validation"},
	}
	for _, rd := range job.GetRounds() {
		v := rd.GetValidation()
		auc, loss := math.NaN(), math.NaN()
		if v != nil {
			auc, loss = v.GetAuc(), v.GetLogloss()
		}
		r.Rounds = append(r.Rounds, report.Round{Round: int(rd.GetRound()), TrainLoss: rd.GetTrainLoss(), ValAUC: auc, ValLoss: loss})
	}
	if v := m.GetValidation(); v != nil {
		for _, row := range []struct {
			name string
			v    float64
		}{{"AUC", v.GetAuc()}, {"KS", v.GetKs()}, {"Gini", v.GetGini()}, {"log loss", v.GetLogloss()}, {"Brier", v.GetBrier()},
			{"accuracy", v.GetAccuracy()}, {"macro-F1", v.GetMacroF1()}, {"validation rows", float64(v.GetExamples())}} {
			r.Metrics = append(r.Metrics, report.Metric{Name: row.name, Values: []float64{row.v}})
		}
	}
	if len(m.GetPipeline()) > 0 {
		if r.Pipeline, err = features.ParsePipeline(m.GetPipeline()); err != nil {
			return err
		}
	}
	if len(m.GetScorecard()) > 0 {
		r.Scorecard = &models.Scorecard{}
		if err := json.Unmarshal(m.GetScorecard(), r.Scorecard); err != nil {
			return err
		}
	}
	if len(m.GetTiers()) > 0 {
		r.Tiers = &models.Tiering{}
		if err := json.Unmarshal(m.GetTiers(), r.Tiers); err != nil {
			return err
		}
	}
	if k := int(m.GetClasses()); k > 2 {
		if s, err := eval.MulticlassSummaryFromVector(m.GetValidationSummary(), k); err == nil {
			r.Multiclass = &s
		}
	} else if len(m.GetValidationSummary()) > 0 {
		if s, err := eval.BinarySummaryFromVector(m.GetValidationSummary()); err == nil {
			r.Test = &s
			r.Notes = append(r.Notes, "Charts show the final model on the participants' validation rows, from summed histograms.")
		}
	}
	if *testFile != "" {
		s, err := testSummary(job, *testFile)
		if err != nil {
			return err
		}
		r.Test = s
		r.Dataset = *testFile
		r.Notes = append(r.Notes, "Charts show the final model on "+*testFile+".")
	}
	if err := report.Write(*out, r); err != nil {
		return err
	}
	fmt.Printf("wrote %s/index.html\n", *out)
	return nil
}

// testSummary scores a local test table with a binary model.
func testSummary(job *fedscorepb.Job, path string) (*eval.BinarySummary, error) {
	m, spec := job.GetModel(), job.GetSpec()
	t, err := datasets.ReadTable(path)
	if err != nil {
		return nil, err
	}
	var probs, y []float64
	switch m.GetKind() {
	case program.ModelScorecard:
		pipe, err := features.ParsePipeline(m.GetPipeline())
		if err != nil {
			return nil, err
		}
		x, err := pipe.Transform(t)
		if err != nil {
			return nil, err
		}
		lr := models.NewLogistic(x.RawMatrix().Cols)
		if err := lr.SetParams(m.GetParams()); err != nil {
			return nil, err
		}
		probs = lr.Predict(x, nil)
		if y, err = program.Labels(spec, t, path); err != nil {
			return nil, err
		}
	case "logistic", "":
		f, err := datasets.Schema{ID: spec.GetIdColumn(), Label: spec.GetLabel(), Features: spec.GetFeatures()}.Frame(t, path)
		if err != nil {
			return nil, err
		}
		st := features.Standardizer{Mean: m.GetScaler().GetMean(), Std: m.GetScaler().GetStd()}
		lr := models.NewLogistic(len(m.GetWeights()))
		if err := lr.SetParams(append(append([]float64(nil), m.GetWeights()...), m.GetIntercept())); err != nil {
			return nil, err
		}
		probs, y = lr.Predict(st.Transform(f.X), nil), f.Y
	default:
		return nil, fmt.Errorf("report: --test is for binary models, not %s", m.GetKind())
	}
	s := eval.NewBinarySummary(eval.DefaultBins)
	if err := s.AddAll(probs, y); err != nil {
		return nil, err
	}
	return &s, nil
}
