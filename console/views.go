package console

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/secure/pki"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// JobView is a job as the console shows it and /api/jobs serves it.
type JobView struct {
	ID                string   `json:"id"`
	Name              string   `json:"name,omitempty"`
	State             string   `json:"state"` // waiting, running, succeeded, failed, cancelled
	Phase             string   `json:"phase,omitempty"`
	Round             int      `json:"round"`       // the round under way
	RoundsPlanned     int      `json:"rounds"`      // the spec's rounds
	RoundsDone        int      `json:"rounds_done"` // rounds recorded
	ModelKind         string   `json:"model,omitempty"`
	Strategy          string   `json:"strategy,omitempty"`
	SecureAggregation bool     `json:"secure_aggregation"`
	SubmittedBy       string   `json:"submitted_by,omitempty"`
	Participants      []string `json:"participants,omitempty"` // listed in the spec; none means any
	MinParticipants   int      `json:"min_participants,omitempty"`
	Features          []string `json:"features,omitempty"`
	Label             string   `json:"label,omitempty"`
	// Cohort is who takes part in the current phase, and Answered how
	// many of them have answered.
	Cohort   []string     `json:"cohort,omitempty"`
	Answered int          `json:"answered"`
	Created  *time.Time   `json:"created,omitempty"`
	Started  *time.Time   `json:"started,omitempty"`
	Ended    *time.Time   `json:"ended,omitempty"`
	Error    string       `json:"error,omitempty"`
	Final    *MetricsView `json:"final,omitempty"` // the model's validation metrics
	History  []RoundView  `json:"history,omitempty"`
	Model    *ModelView   `json:"model_detail,omitempty"`
	Terminal bool         `json:"terminal"`
}

// RoundView is one recorded training round.
type RoundView struct {
	Round        int          `json:"round"`
	Participants []string     `json:"participants"`
	Dropped      []string     `json:"dropped,omitempty"`
	Examples     uint64       `json:"examples"`
	TrainLoss    float64      `json:"train_loss"`
	Validation   *MetricsView `json:"validation,omitempty"`
}

// MetricsView is a model's figures on validation rows.
type MetricsView struct {
	AUC       float64 `json:"auc"`
	KS        float64 `json:"ks"`
	LogLoss   float64 `json:"logloss"`
	Examples  uint64  `json:"examples"`
	Positives uint64  `json:"positives"`
}

// ModelView is a trained model's coefficients.
type ModelView struct {
	Kind      string  `json:"kind"`
	Intercept float64 `json:"intercept"`
	Terms     []Term  `json:"terms"`
}

// Term is one feature's coefficient and standardisation.
type Term struct {
	Feature string  `json:"feature"`
	Weight  float64 `json:"weight"`
	Mean    float64 `json:"mean"`
	Std     float64 `json:"std"`
}

func stateName(s fedscorepb.JobState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "JOB_STATE_"))
}

func timeOf(ts *timestamppb.Timestamp) *time.Time {
	if ts == nil {
		return nil
	}
	t := ts.AsTime()
	return &t
}

func metricsView(m *fedscorepb.Metrics) *MetricsView {
	if m == nil {
		return nil
	}
	return &MetricsView{AUC: m.GetAuc(), KS: m.GetKs(), LogLoss: m.GetLogloss(), Examples: m.GetExamples(), Positives: m.GetPositives()}
}

// jobView converts a job; full adds its history and model.
func jobView(j *fedscorepb.Job, full bool) JobView {
	s := j.GetSpec()
	v := JobView{
		ID: j.GetId(), Name: s.GetName(), State: stateName(j.GetState()), Phase: j.GetPhase(),
		Round: int(j.GetRound()), RoundsPlanned: int(s.GetRounds()), RoundsDone: len(j.GetRounds()),
		ModelKind: s.GetModel(), Strategy: s.GetStrategy(), SecureAggregation: !s.GetPlainAggregation(),
		SubmittedBy: j.GetSubmittedBy(), Participants: s.GetParticipants(), MinParticipants: int(s.GetMinParticipants()),
		Features: s.GetFeatures(), Label: s.GetLabel(),
		Cohort: j.GetCohort(), Answered: int(j.GetAnswered()),
		Created: timeOf(j.GetCreated()), Started: timeOf(j.GetStarted()), Ended: timeOf(j.GetEnded()),
		Error: j.GetError(), Final: metricsView(j.GetModel().GetValidation()), Terminal: terminal(j.GetState()),
	}
	if v.Strategy == "" {
		v.Strategy = "fedavg"
	}
	if !full {
		return v
	}
	for _, r := range j.GetRounds() {
		v.History = append(v.History, RoundView{
			Round: int(r.GetRound()), Participants: r.GetParticipants(), Dropped: r.GetDropped(),
			Examples: r.GetExamples(), TrainLoss: r.GetTrainLoss(), Validation: metricsView(r.GetValidation()),
		})
	}
	if m := j.GetModel(); m != nil {
		mv := &ModelView{Kind: m.GetKind(), Intercept: m.GetIntercept()}
		mean, std := m.GetScaler().GetMean(), m.GetScaler().GetStd()
		for i, f := range m.GetFeatures() {
			t := Term{Feature: f}
			if i < len(m.GetWeights()) {
				t.Weight = m.GetWeights()[i]
			}
			if i < len(mean) && i < len(std) {
				t.Mean, t.Std = mean[i], std[i]
			}
			mv.Terms = append(mv.Terms, t)
		}
		v.Model = mv
	}
	return v
}

func terminal(s fedscorepb.JobState) bool {
	return s == fedscorepb.JobState_JOB_STATE_SUCCEEDED || s == fedscorepb.JobState_JOB_STATE_FAILED || s == fedscorepb.JobState_JOB_STATE_CANCELLED
}

// Percent is the share of planned rounds done, 0 to 100.
func (v JobView) Percent() int {
	if v.State == "succeeded" {
		return 100
	}
	if v.RoundsPlanned <= 0 {
		return 0
	}
	return min(100, 100*v.RoundsDone/v.RoundsPlanned)
}

// Title is the job's name, or its id.
func (v JobView) Title() string { return cmp.Or(v.Name, v.ID) }

// duration is how long the job ran (so far, while it runs).
func (v JobView) duration(now time.Time) time.Duration {
	if v.Started == nil {
		return 0
	}
	end := now
	if v.Ended != nil {
		end = *v.Ended
	}
	return end.Sub(*v.Started)
}

// LastValidation is the latest round's validation metrics.
func (v JobView) LastValidation() *MetricsView {
	for i := len(v.History) - 1; i >= 0; i-- {
		if v.History[i].Validation != nil {
			return v.History[i].Validation
		}
	}
	return nil
}

// Dropouts counts dropouts over every recorded round.
func (v JobView) Dropouts() int {
	n := 0
	for _, r := range v.History {
		n += len(r.Dropped)
	}
	return n
}

// DropRounds are the recorded rounds that lost participants, newest first.
func (v JobView) DropRounds() []RoundView {
	var out []RoundView
	for i := len(v.History) - 1; i >= 0; i-- {
		if len(v.History[i].Dropped) > 0 {
			out = append(out, v.History[i])
		}
	}
	return out
}

// HistoryDesc is the history, newest round first.
func (v JobView) HistoryDesc() []RoundView {
	out := slices.Clone(v.History)
	slices.Reverse(out)
	return out
}

// lists reports whether a job names participant id: in its spec, or (for a
// job open to any participant) in its cohort or any recorded round.
func lists(j *fedscorepb.Job, id string) bool {
	if ps := j.GetSpec().GetParticipants(); len(ps) > 0 {
		return slices.Contains(ps, id)
	}
	if slices.Contains(j.GetCohort(), id) {
		return true
	}
	for _, r := range j.GetRounds() {
		if slices.Contains(r.GetParticipants(), id) || slices.Contains(r.GetDropped(), id) {
			return true
		}
	}
	return false
}

// visible filters jobs down to those the viewer may see.
func visible(v *viewer, jobs []*fedscorepb.Job) []*fedscorepb.Job {
	if v.ID.Role != pki.Participant {
		return jobs
	}
	var out []*fedscorepb.Job
	for _, j := range jobs {
		if lists(j, v.ID.Name) {
			out = append(out, j)
		}
	}
	return out
}

func sortJobs(jobs []*fedscorepb.Job) {
	slices.SortStableFunc(jobs, func(a, b *fedscorepb.Job) int {
		if c := b.GetCreated().AsTime().Compare(a.GetCreated().AsTime()); c != 0 {
			return c
		}
		return strings.Compare(b.GetId(), a.GetId())
	})
}

// ParticipantView is a participant as the console shows it.
type ParticipantView struct {
	ID        string     `json:"id"`
	Identity  string     `json:"identity"` // as its certificate names it
	Connected bool       `json:"connected"`
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	Version   string     `json:"version,omitempty"`
	// Health is "down" (not connected), "degraded" (connected, but it
	// dropped out of one of its last healthRounds rounds) or "up".
	Health string `json:"health"`
	// Jobs that list it, newest first; Running of them are under way.
	Jobs    []JobRef `json:"jobs,omitempty"`
	Running int      `json:"running"`
	// Over its last recentRounds recorded rounds, across jobs: how many
	// it was part of and how many of those it dropped out of.
	RecentRounds   int `json:"recent_rounds"`
	RecentDropouts int `json:"recent_dropouts"`
	// LastDrop is the latest round it dropped out of.
	LastDrop *DropRef `json:"last_drop,omitempty"`
}

// JobRef names a job.
type JobRef struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	State string `json:"state"`
}

// DropRef names a round of a job.
type DropRef struct {
	JobRef
	Round int `json:"round"`
}

const (
	recentRounds = 100
	healthRounds = 10
)

func participantViews(ps []*fedscorepb.ParticipantInfo, jobs []*fedscorepb.Job) []ParticipantView {
	sortJobs(jobs)
	out := make([]ParticipantView, 0, len(ps))
	for _, p := range ps {
		v := ParticipantView{
			ID: p.GetId(), Identity: pki.Identity{Name: p.GetId(), Role: pki.Participant}.String(),
			Connected: p.GetConnected(), LastSeen: timeOf(p.GetLastSeen()), Version: p.GetVersion(),
		}
		recentDrop := false
		for _, j := range jobs { // newest first
			if !lists(j, v.ID) {
				continue
			}
			ref := JobRef{ID: j.GetId(), Name: j.GetSpec().GetName(), State: stateName(j.GetState())}
			v.Jobs = append(v.Jobs, ref)
			if !terminal(j.GetState()) {
				v.Running++
			}
			rs := j.GetRounds()
			for i := len(rs) - 1; i >= 0 && v.RecentRounds < recentRounds; i-- {
				switch {
				case slices.Contains(rs[i].GetDropped(), v.ID):
					if v.RecentRounds < healthRounds {
						recentDrop = true
					}
					if v.LastDrop == nil {
						v.LastDrop = &DropRef{JobRef: ref, Round: int(rs[i].GetRound())}
					}
					v.RecentRounds++
					v.RecentDropouts++
				case slices.Contains(rs[i].GetParticipants(), v.ID):
					v.RecentRounds++
				}
			}
		}
		switch {
		case !v.Connected:
			v.Health = "down"
		case recentDrop:
			v.Health = "degraded"
		default:
			v.Health = "up"
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b ParticipantView) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Publication is when scores of one model version were last published.
type Publication struct {
	Version  string    `json:"version"`
	At       time.Time `json:"at"`
	Champion bool      `json:"champion"`
}

func publications(s ScoreStats, models []ModelVersion) []Publication {
	champ := ""
	for _, m := range models {
		if m.Champion {
			champ = m.Version
		}
	}
	out := make([]Publication, 0, len(s.LastPublished))
	for v, at := range s.LastPublished {
		out = append(out, Publication{Version: v, At: at, Champion: v == champ})
	}
	slices.SortFunc(out, func(a, b Publication) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out
}

// Formatting helpers for templates.

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtClock is a time of day; fmtDate its date.
func fmtClock(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return t.UTC().Format("15:04:05 UTC")
}

func fmtDate(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02")
}

// fmtShort is a time in a table: month, day and time of day, in UTC.
func fmtShort(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "—"
	}
	return t.UTC().Format("Jan 2 15:04:05")
}

func fmtAgo(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "never"
	}
	d := now.Sub(*t)
	if d < time.Minute {
		return fmt.Sprintf("%ds ago", max(0, int(d.Seconds())))
	}
	return fmtDuration(d) + " ago"
}

func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm %02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd %02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

func fmtFloat(prec int, x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "—"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func fmtCount[T int | int64 | uint64](n T) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
