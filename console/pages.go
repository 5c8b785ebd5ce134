package console

import (
	"cmp"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
)

var pageNames = []string{"jobs", "job", "report", "models", "participants", "scores", "login", "error"}

func parseTemplates() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

var funcs = template.FuncMap{
	"when":  func(t any) string { return fmtTime(timeArg(t)) },
	"ago":   func(now time.Time, t any) string { return fmtAgo(now, timeArg(t)) },
	"clock": func(t any) string { return fmtClock(timeArg(t)) },
	"date":  func(t any) string { return fmtDate(timeArg(t)) },
	"short": func(t any) string { return fmtShort(timeArg(t)) },
	"dur": func(now time.Time, v JobView) string {
		if d := v.duration(now); d > 0 {
			return fmtDuration(d)
		}
		return "—"
	},
	"f2":       func(x float64) string { return fmtFloat(2, x) },
	"f4":       func(x float64) string { return fmtFloat(4, x) },
	"int":      func(n int64) string { return fmtCount(n) },
	"uint":     func(n uint64) string { return fmtCount(n) },
	"join":     strings.Join,
	"lossSVG":  lossChart,
	"aucSVG":   aucChart,
	"contains": slices.Contains[[]string],
}

// timeArg lets templates pass a time.Time or a *time.Time.
func timeArg(t any) *time.Time {
	switch t := t.(type) {
	case time.Time:
		return &t
	case *time.Time:
		return t
	}
	return nil
}

// Data of each page.
type (
	jobsData struct {
		Now  time.Time
		Jobs []JobView
	}
	jobData struct {
		Now time.Time
		Job JobView
	}
	modelsData struct {
		Models   []ModelVersion
		Champion string
	}
	participantsData struct {
		Now          time.Time
		Participants []ParticipantView
	}
	scoresData struct {
		Now          time.Time
		Stats        ScoreStats
		Publications []Publication
	}
)

func (c *Console) jobs(r *http.Request) ([]JobView, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	js, err := c.cfg.Source.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	js = visible(viewerFrom(r.Context()), slices.Clone(js))
	sortJobs(js)
	out := make([]JobView, len(js))
	for i, j := range js {
		out[i] = jobView(j, false)
		if out[i].Final == nil {
			// The latest validation, for a job still training.
			rs := j.GetRounds()
			for k := len(rs) - 1; k >= 0 && out[i].Final == nil; k-- {
				out[i].Final = metricsView(rs[k].GetValidation())
			}
		}
	}
	return out, nil
}

// job fetches one job the viewer may see.
func (c *Console) job(r *http.Request) (*fedscorepb.Job, int, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	j, err := c.cfg.Source.Job(ctx, r.PathValue("id"))
	if err != nil {
		return nil, 0, err
	}
	if j == nil {
		return nil, 0, fmt.Errorf("job %s: %w", r.PathValue("id"), ErrNotFound)
	}
	if len(visible(viewerFrom(r.Context()), []*fedscorepb.Job{j})) == 0 {
		return nil, http.StatusForbidden, errors.New("this job does not list you")
	}
	return j, 0, nil
}

func (c *Console) pageJobs(w http.ResponseWriter, r *http.Request) {
	js, err := c.jobs(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "jobs", c.page(r, "Jobs", "/jobs", jobsData{Now: c.now(), Jobs: js}))
}

func (c *Console) pageJob(w http.ResponseWriter, r *http.Request) {
	c.jobPage(w, r, "job")
}

func (c *Console) pageReport(w http.ResponseWriter, r *http.Request) {
	c.jobPage(w, r, "report")
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request, name string) {
	j, status, err := c.job(r)
	if status != 0 {
		c.problem(w, r, status, err.Error())
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := jobView(j, true)
	title := v.Title()
	if name == "report" {
		title = "Report: " + title
	}
	c.render(w, r, http.StatusOK, name, c.page(r, title, "/jobs", jobData{Now: c.now(), Job: v}))
}

func (c *Console) models(r *http.Request) ([]ModelVersion, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	ms, err := c.cfg.Source.Models(ctx)
	if err != nil {
		return nil, err
	}
	ms = slices.Clone(ms)
	slices.SortStableFunc(ms, func(a, b ModelVersion) int {
		return cmp.Or(b.Created.Compare(a.Created), strings.Compare(b.Version, a.Version))
	})
	return ms, nil
}

func (c *Console) pageModels(w http.ResponseWriter, r *http.Request) {
	ms, err := c.models(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := modelsData{Models: ms}
	for _, m := range ms {
		if m.Champion {
			d.Champion = m.Version
		}
	}
	c.render(w, r, http.StatusOK, "models", c.page(r, "Models", "/models", d))
}

func (c *Console) handlePromote(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r.Context())
	version := r.PostFormValue("version")
	if version == "" {
		c.problem(w, r, http.StatusBadRequest, "No version to promote.")
		return
	}
	ctx, cancel := c.ctx(r)
	defer cancel()
	if err := c.cfg.Source.Promote(ctx, v.ID, version); err != nil {
		c.fail(w, r, err)
		return
	}
	c.cfg.Log.Info("console promote", "identity", v.ID.String(), "version", version)
	c.acted(w, r, "promoted")
}

func (c *Console) handleRollback(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r.Context())
	ctx, cancel := c.ctx(r)
	defer cancel()
	if err := c.cfg.Source.Rollback(ctx, v.ID); err != nil {
		c.fail(w, r, err)
		return
	}
	c.cfg.Log.Info("console rollback", "identity", v.ID.String())
	c.acted(w, r, "rolledback")
}

// acted answers a successful action: back to the models page for a form,
// JSON for a script.
func (c *Console) acted(w http.ResponseWriter, r *http.Request, done string) {
	if strings.Contains(r.Header.Get("Accept"), "application/json") {
		writeJSON(w, http.StatusOK, map[string]string{"done": done})
		return
	}
	http.Redirect(w, r, "/models?done="+done, http.StatusSeeOther)
}

func (c *Console) participants(r *http.Request) ([]ParticipantView, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	ps, err := c.cfg.Source.Participants(ctx)
	if err != nil {
		return nil, err
	}
	js, err := c.cfg.Source.Jobs(ctx)
	if err != nil {
		return nil, err
	}
	return participantViews(ps, visible(viewerFrom(r.Context()), slices.Clone(js))), nil
}

func (c *Console) pageParticipants(w http.ResponseWriter, r *http.Request) {
	ps, err := c.participants(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "participants", c.page(r, "Participants", "/participants", participantsData{Now: c.now(), Participants: ps}))
}

func (c *Console) scores(r *http.Request) (scoresData, error) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	s, err := c.cfg.Source.ScoreStats(ctx)
	if err != nil {
		return scoresData{}, err
	}
	ms, err := c.cfg.Source.Models(ctx)
	if err != nil {
		return scoresData{}, err
	}
	return scoresData{Now: c.now(), Stats: s, Publications: publications(s, ms)}, nil
}

func (c *Console) pageScores(w http.ResponseWriter, r *http.Request) {
	d, err := c.scores(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "scores", c.page(r, "Scores", "/scores", d))
}

// JSON endpoints.

func (c *Console) apiMe(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r.Context())
	var areas []string
	for _, n := range v.Nav() {
		areas = append(areas, n.Path)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"name": v.ID.Name, "role": v.ID.Role, "via": v.Via, "csrf": c.csrf(v),
		"may_act": v.MayAct(), "pages": areas,
	})
}

func (c *Console) apiJobs(w http.ResponseWriter, r *http.Request) {
	js, err := c.jobs(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": js})
}

func (c *Console) apiJob(w http.ResponseWriter, r *http.Request) {
	j, status, err := c.job(r)
	if status != 0 {
		c.problem(w, r, status, err.Error())
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, jobView(j, true))
}

func (c *Console) apiModels(w http.ResponseWriter, r *http.Request) {
	ms, err := c.models(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": ms})
}

func (c *Console) apiParticipants(w http.ResponseWriter, r *http.Request) {
	ps, err := c.participants(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"participants": ps})
}

func (c *Console) apiScores(w http.ResponseWriter, r *http.Request) {
	d, err := c.scores(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stats": d.Stats, "publications": d.Publications})
}
