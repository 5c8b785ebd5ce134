package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("console: invalid config")

// Config configures a Console. Zero values mean the defaults.
type Config struct {
	// Source is where the console reads from and acts; required.
	Source Source
	// Key signs login and session tokens with HMAC-SHA256: at least 32
	// bytes. When nil, 32 random bytes are drawn from Rand, and tokens
	// and sessions end with the process.
	Key []byte
	// Rand defaults to crypto/rand.
	Rand io.Reader
	// Now defaults to time.Now.
	Now func() time.Time
	// Log defaults to discarding.
	Log *slog.Logger
	// SessionTTL is how long a session lasts after login: 8 hours.
	SessionTTL time.Duration
	// Revoked, if set, reports identities that must be turned away (the
	// coordinator's revocation list); it is asked on every request.
	Revoked func(name string) bool
	// Refresh is how often a live page polls: every second.
	Refresh time.Duration
	// Timeout bounds each call to the Source: 5 seconds.
	Timeout time.Duration
}

func (c *Config) validate() error {
	if c.Source == nil {
		return fmt.Errorf("%w: no Source", ErrConfig)
	}
	if c.Key != nil && len(c.Key) < 32 {
		return fmt.Errorf("%w: key of %d bytes, want at least 32", ErrConfig, len(c.Key))
	}
	if c.SessionTTL < 0 || c.Refresh < 0 || c.Timeout < 0 {
		return fmt.Errorf("%w: negative duration", ErrConfig)
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 8 * time.Hour
	}
	if c.Refresh == 0 {
		c.Refresh = time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	return nil
}

// Console serves the web console. It is safe for concurrent use.
type Console struct {
	cfg     Config
	key     []byte
	pages   map[string]*template.Template
	handler http.Handler

	mu          sync.Mutex
	spentNonces map[string]int64 // used login tokens and ended sessions, until they expire
}

// New validates c and builds a console.
func New(c Config) (*Console, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	co := &Console{cfg: c, key: c.Key, spentNonces: map[string]int64{}}
	if co.key == nil {
		co.key = make([]byte, 32)
		if _, err := io.ReadFull(c.Rand, co.key); err != nil {
			return nil, fmt.Errorf("console: key: %w", err)
		}
	} else {
		co.key = append([]byte(nil), c.Key...)
	}
	var err error
	if co.pages, err = parseTemplates(); err != nil {
		return nil, err
	}
	co.handler = co.routes()
	return co, nil
}

// Handler serves the console. Mount it at the root of an HTTP server; more
// specific patterns (such as /metrics) registered beside it still win.
func (c *Console) Handler() http.Handler { return c.handler }

func (c *Console) now() time.Time { return c.cfg.Now() }

func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.Handle("GET /static/", cacheFor(time.Hour, files))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/favicon.svg"
		cacheFor(24*time.Hour, http.FileServerFS(static)).ServeHTTP(w, r2)
	})
	mux.HandleFunc("GET /login", c.handleLogin)
	mux.Handle("POST /logout", c.act(c.handleLogout, false))
	mux.Handle("GET /{$}", http.RedirectHandler("/jobs", http.StatusSeeOther))

	mux.Handle("GET /jobs", c.view(areaJobs, c.pageJobs))
	mux.Handle("GET /jobs/{id}", c.view(areaJobs, c.pageJob))
	mux.Handle("GET /jobs/{id}/report", c.view(areaJobs, c.pageReport))
	mux.Handle("GET /models", c.view(areaModels, c.pageModels))
	mux.Handle("POST /models/promote", c.act(c.handlePromote, true))
	mux.Handle("POST /models/rollback", c.act(c.handleRollback, true))
	mux.Handle("GET /participants", c.view(areaParticipants, c.pageParticipants))
	mux.Handle("GET /scores", c.view(areaScores, c.pageScores))

	mux.Handle("GET /api/me", c.view(-1, c.apiMe))
	mux.Handle("GET /api/jobs", c.view(areaJobs, c.apiJobs))
	mux.Handle("GET /api/jobs/{id}", c.view(areaJobs, c.apiJob))
	mux.Handle("GET /api/models", c.view(areaModels, c.apiModels))
	mux.Handle("GET /api/participants", c.view(areaParticipants, c.apiParticipants))
	mux.Handle("GET /api/scores", c.view(areaScores, c.apiScores))
	return securityHeaders(mux)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	v := fmt.Sprintf("public, max-age=%d", int(d/time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		h.ServeHTTP(w, r)
	})
}

// securityHeaders forbids inline script and style, framing and anything
// from another origin, and keeps login tokens out of Referer headers.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

// wantsHTML tells a browser's page request from a script's.
func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// authenticate runs h with the request's viewer, or refuses: a browser is
// sent to the login page, a script gets 401.
func (c *Console) authenticate(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := c.identify(r)
		if err != nil {
			if wantsHTML(r) && r.Method == http.MethodGet && r.URL.Query().Get("fragment") == "" {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			c.problem(w, r, http.StatusUnauthorized, "Sign in first: open a login link or present a client certificate.")
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), viewerKey{}, v)))
	}
}

// view serves a read-only page or endpoint of an area (-1: any viewer).
func (c *Console) view(a area, h http.HandlerFunc) http.Handler {
	return c.authenticate(func(w http.ResponseWriter, r *http.Request) {
		if a >= 0 && !viewerFrom(r.Context()).may(a) {
			c.problem(w, r, http.StatusForbidden, "Your role may not see this page.")
			return
		}
		h(w, r)
	})
}

// act serves a POST that changes something: it must come from this
// origin, carry the viewer's CSRF token and, if admin, come from an admin.
func (c *Console) act(h http.HandlerFunc, admin bool) http.Handler {
	inner := c.authenticate(func(w http.ResponseWriter, r *http.Request) {
		v := viewerFrom(r.Context())
		if admin && !v.MayAct() {
			c.cfg.Log.Warn("console action refused", "identity", v.ID.String(), "path", r.URL.Path, "reason", "role")
			c.problem(w, r, http.StatusForbidden, "Only an admin may do this.")
			return
		}
		if !c.checkCSRF(r, v) {
			c.cfg.Log.Warn("console action refused", "identity", v.ID.String(), "path", r.URL.Path, "reason", "csrf")
			c.problem(w, r, http.StatusForbidden, "This form has expired: reload the page and try again.")
			return
		}
		h(w, r)
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.problem(w, r, http.StatusForbidden, "Cross-origin request refused.")
	}))
	return cop.Handler(inner)
}

// ctx bounds a request's calls to the Source.
func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), c.cfg.Timeout)
}

// page is what every template receives.
type page struct {
	Title   string
	Section string // the current section's path
	Viewer  *viewer
	CSRF    string
	Refresh int // milliseconds
	Error   string
	Notice  string
	Data    any
}

func (c *Console) page(r *http.Request, title, nav string, data any) page {
	p := page{Title: title, Section: nav, Data: data, Refresh: int(c.cfg.Refresh / time.Millisecond)}
	if v := viewerFrom(r.Context()); v != nil {
		p.Viewer, p.CSRF = v, c.csrf(v)
	}
	p.Notice = noticeText(r.URL.Query().Get("done"))
	return p
}

func noticeText(code string) string {
	switch code {
	case "promoted":
		return "Model promoted."
	case "rolledback":
		return "Rolled back to the previous champion."
	}
	return ""
}

// render writes a page, or only its live fragment when ?fragment=live.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	t := c.pages[name]
	tmpl := "layout"
	if r.URL.Query().Get("fragment") == "live" && t.Lookup("live") != nil {
		tmpl = "live"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, p); err != nil {
		c.cfg.Log.Error("console render", "page", name, "err", err)
		http.Error(w, "console: render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// problem answers an error as a page to a browser, as JSON otherwise.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if wantsHTML(r) && r.URL.Query().Get("fragment") == "" {
		p := c.page(r, http.StatusText(status), "", nil)
		p.Error = msg
		c.render(w, r, status, "error", p)
		return
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

// fail answers an error from the Source.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		c.problem(w, r, http.StatusNotFound, err.Error())
	case errors.Is(err, ErrInvalid):
		c.problem(w, r, http.StatusConflict, err.Error())
	default:
		c.cfg.Log.Error("console source", "path", r.URL.Path, "err", err)
		c.problem(w, r, http.StatusBadGateway, "The coordinator could not answer: "+err.Error())
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
