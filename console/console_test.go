package console_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fedscore/fedscore/console"
	"github.com/fedscore/fedscore/console/consoletest"
	"github.com/fedscore/fedscore/secure/pki"
)

var (
	t0        = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	admin     = pki.Identity{Name: "ops", Role: pki.Admin}
	scientist = pki.Identity{Name: "alice", Role: pki.Scientist}
	bank      = pki.Identity{Name: "bank", Role: pki.Participant}
	partner1  = pki.Identity{Name: "partner-1", Role: pki.Participant}
	credit    = pki.Identity{Name: "credit", Role: pki.Credit}
)

type env struct {
	c       *console.Console
	src     *consoletest.Source
	now     time.Time
	revoked map[string]bool
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{src: consoletest.Federation(t0), now: t0, revoked: map[string]bool{}}
	c, err := console.New(console.Config{
		Source:  e.src,
		Key:     bytes.Repeat([]byte{7}, 32),
		Now:     func() time.Time { return e.now },
		Revoked: func(name string) bool { return e.revoked[name] },
	})
	if err != nil {
		t.Fatal(err)
	}
	e.c = c
	return e
}

// req is one request to the console.
type req struct {
	method, path string
	cookie       *http.Cookie
	html         bool // as a browser asks for a page
	form         url.Values
	header       map[string]string
	tls          *tls.ConnectionState
}

func (e *env) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	var body *strings.Reader
	if r.form != nil {
		body = strings.NewReader(r.form.Encode())
	} else {
		body = strings.NewReader("")
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if r.form != nil {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if r.html {
		hr.Header.Set("Accept", "text/html,application/xhtml+xml")
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	hr.TLS = r.tls
	rec := httptest.NewRecorder()
	e.c.Handler().ServeHTTP(rec, hr)
	return rec
}

func (e *env) login(t *testing.T, id pki.Identity) *http.Cookie {
	t.Helper()
	tok, err := e.c.IssueToken(id, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	rec := e.do(t, req{path: "/login?token=" + tok, html: true})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/jobs" {
		t.Fatalf("login as %s: %d to %q, want 303 to /jobs: %s", id, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == "fedscore_console" {
			return c
		}
	}
	t.Fatalf("login as %s set no session cookie", id)
	return nil
}

func (e *env) me(t *testing.T, r req) map[string]any {
	t.Helper()
	r.path = "/api/me"
	rec := e.do(t, r)
	if rec.Code != http.StatusOK {
		t.Fatalf("/api/me: %d %s", rec.Code, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) csrf(t *testing.T, cookie *http.Cookie) string {
	t.Helper()
	return e.me(t, req{cookie: cookie})["csrf"].(string)
}

func TestLoginSetsStrictSessionCookie(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, scientist)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", ck)
	}
	if ck.Secure {
		t.Fatalf("cookie Secure over plain HTTP: the browser would drop it")
	}
	me := e.me(t, req{cookie: ck})
	if me["name"] != "alice" || me["role"] != "scientist" || me["via"] != "login" || me["may_act"] != false {
		t.Fatalf("/api/me = %v", me)
	}
	// Over TLS the cookie is Secure.
	tok, _ := e.c.IssueToken(scientist, time.Minute)
	rec := e.do(t, req{path: "/login?token=" + tok, tls: &tls.ConnectionState{}})
	if c := rec.Result().Cookies(); len(c) != 1 || !c[0].Secure {
		t.Fatalf("login over TLS set cookies %+v, want one Secure cookie", c)
	}
}

func TestLoginTokenIsSingleUse(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.c.IssueToken(scientist, time.Minute)
	if rec := e.do(t, req{path: "/login?token=" + tok}); rec.Code != http.StatusSeeOther {
		t.Fatalf("first use: %d", rec.Code)
	}
	rec := e.do(t, req{path: "/login?token=" + tok, html: true})
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "already been used") {
		t.Fatalf("second use: %d %s", rec.Code, rec.Body)
	}
}

// tamper rewrites a token's claims, keeping its signature.
func tamper(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestForgedTokensAreRefused(t *testing.T) {
	e := newEnv(t)
	other, err := console.New(console.Config{Source: e.src, Key: bytes.Repeat([]byte{8}, 32), Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	login, _ := e.c.IssueToken(bank, time.Minute)
	foreign, _ := other.IssueToken(admin, time.Minute)
	session := e.login(t, bank).Value

	for _, tc := range []struct{ name, token string }{
		{"role raised to admin", tamper(t, login, func(m map[string]any) { m["r"] = "admin" })},
		{"name changed", tamper(t, login, func(m map[string]any) { m["n"] = "partner-1" })},
		{"expiry extended", tamper(t, login, func(m map[string]any) { m["e"] = float64(t0.Add(time.Hour).Unix()) })},
		{"signed with another key", foreign},
		{"no signature", strings.Join(strings.Split(login, ".")[:2], ".") + "."},
		{"truncated", login[:len(login)-4]},
		{"garbage", "v1.bm90.anNvbg"},
		{"empty", ""},
		{"other version", "v2" + strings.TrimPrefix(login, "v1")},
		{"session token used to log in", session},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token != "" {
				rec := e.do(t, req{path: "/login?token=" + url.QueryEscape(tc.token)})
				if rec.Code != http.StatusUnauthorized || len(rec.Result().Cookies()) != 0 {
					t.Fatalf("login: %d, cookies %v; want 401 and none", rec.Code, rec.Result().Cookies())
				}
			}
			if tc.name == "session token used to log in" {
				return
			}
			// The same token presented as a session cookie.
			rec := e.do(t, req{path: "/api/jobs", cookie: &http.Cookie{Name: "fedscore_console", Value: tc.token}})
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("as a cookie: %d, want 401", rec.Code)
			}
		})
	}
	// A genuine but unused login token is no session either.
	fresh, _ := e.c.IssueToken(admin, time.Minute)
	if rec := e.do(t, req{path: "/api/jobs", cookie: &http.Cookie{Name: "fedscore_console", Value: fresh}}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("login token as a cookie: %d, want 401", rec.Code)
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	tok, _ := e.c.IssueToken(scientist, time.Minute)
	e.now = t0.Add(61 * time.Second)
	rec := e.do(t, req{path: "/login?token=" + tok, html: true})
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "expired") {
		t.Fatalf("expired login token: %d %s", rec.Code, rec.Body)
	}

	e.now = t0
	ck := e.login(t, scientist)
	e.now = t0.Add(8*time.Hour - time.Second)
	if rec := e.do(t, req{path: "/api/jobs", cookie: ck}); rec.Code != http.StatusOK {
		t.Fatalf("session within its 8 hours: %d", rec.Code)
	}
	e.now = t0.Add(8 * time.Hour)
	if rec := e.do(t, req{path: "/api/jobs", cookie: ck}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("expired session, API: %d, want 401", rec.Code)
	}
	if rec := e.do(t, req{path: "/jobs", cookie: ck, html: true}); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
		t.Fatalf("expired session, page: %d to %q, want 303 to /login", rec.Code, rec.Header().Get("Location"))
	}
}

func TestIssueTokenValidates(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		id  pki.Identity
		ttl time.Duration
	}{
		{pki.Identity{Name: "Bad Name", Role: pki.Admin}, time.Minute},
		{pki.Identity{Name: "ops", Role: "root"}, time.Minute},
		{admin, 0},
		{admin, console.MaxLoginTTL + time.Second},
	} {
		if _, err := e.c.IssueToken(tc.id, tc.ttl); err == nil {
			t.Errorf("IssueToken(%v, %v) succeeded", tc.id, tc.ttl)
		}
	}
	u, err := e.c.LoginURL("http://127.0.0.1:9464/", admin, time.Minute)
	if err != nil || !strings.HasPrefix(u, "http://127.0.0.1:9464/login?token=v1.") {
		t.Fatalf("LoginURL = %q, %v", u, err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := console.New(console.Config{}); !errors.Is(err, console.ErrConfig) {
		t.Errorf("no source: %v", err)
	}
	if _, err := console.New(console.Config{Source: consoletest.Federation(t0), Key: []byte("short")}); !errors.Is(err, console.ErrConfig) {
		t.Errorf("short key: %v", err)
	}
	// Without a key, tokens of one console are worthless to another.
	a, _ := console.New(console.Config{Source: consoletest.Federation(t0)})
	b, _ := console.New(console.Config{Source: consoletest.Federation(t0)})
	tok, _ := a.IssueToken(admin, time.Minute)
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/login?token="+tok, nil))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("token of another console's random key: %d", rec.Code)
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/jobs", "/jobs/job-0001", "/models", "/participants", "/scores", "/jobs/job-0001/report"} {
		rec := e.do(t, req{path: p, html: true})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
			t.Errorf("browser GET %s: %d to %q, want 303 to /login", p, rec.Code, rec.Header().Get("Location"))
		}
	}
	for _, p := range []string{"/api/jobs", "/api/me", "/jobs", "/jobs/job-0003?fragment=live"} {
		if rec := e.do(t, req{path: p}); rec.Code != http.StatusUnauthorized {
			t.Errorf("script GET %s: %d, want 401", p, rec.Code)
		}
	}
	rec := e.do(t, req{method: "POST", path: "/models/promote", form: url.Values{"version": {"v0"}}})
	if rec.Code != http.StatusUnauthorized || len(e.src.Actions()) != 0 {
		t.Fatalf("anonymous promote: %d, actions %v", rec.Code, e.src.Actions())
	}
	// The login page explains how to sign in.
	rec = e.do(t, req{path: "/login", html: true})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "fedscore console login") {
		t.Fatalf("login help: %d", rec.Code)
	}
}

func TestRoles(t *testing.T) {
	e := newEnv(t)
	cookies := map[pki.Identity]*http.Cookie{}
	for _, id := range []pki.Identity{admin, scientist, bank, partner1, credit} {
		cookies[id] = e.login(t, id)
	}
	const ok, no = http.StatusOK, http.StatusForbidden
	for _, tc := range []struct {
		id   pki.Identity
		path string
		want int
	}{
		{admin, "/jobs", ok}, {admin, "/models", ok}, {admin, "/participants", ok}, {admin, "/scores", ok},
		{scientist, "/jobs/job-0002", ok}, {scientist, "/models", ok}, {scientist, "/participants", ok}, {scientist, "/scores", ok},
		{bank, "/jobs", ok}, {bank, "/participants", ok}, {bank, "/jobs/job-0001", ok}, {bank, "/jobs/job-0001/report", ok},
		{bank, "/jobs/job-0002", no}, {bank, "/jobs/job-0002/report", no}, {bank, "/api/jobs/job-0002", no},
		{bank, "/models", no}, {bank, "/scores", no}, {bank, "/api/models", no},
		{partner1, "/jobs/job-0002", ok},
		{credit, "/jobs", ok}, {credit, "/models", ok}, {credit, "/participants", no}, {credit, "/scores", no},
		{admin, "/jobs/no-such-job", http.StatusNotFound}, {admin, "/api/jobs/no-such-job", http.StatusNotFound},
	} {
		rec := e.do(t, req{path: tc.path, cookie: cookies[tc.id], html: !strings.HasPrefix(tc.path, "/api/")})
		if rec.Code != tc.want {
			t.Errorf("%s GET %s: %d, want %d", tc.id, tc.path, rec.Code, tc.want)
		}
	}
	// The navigation offers only what the role may see.
	body := e.do(t, req{path: "/jobs", cookie: cookies[bank], html: true}).Body.String()
	if strings.Contains(body, `href="/models"`) || !strings.Contains(body, `href="/participants"`) {
		t.Errorf("participant's navigation wrong")
	}
}

func TestParticipantSeesOnlyJobsListingIt(t *testing.T) {
	e := newEnv(t)
	var got struct {
		Jobs []console.JobView `json:"jobs"`
	}
	rec := e.do(t, req{path: "/api/jobs", cookie: e.login(t, bank)})
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range got.Jobs {
		ids = append(ids, j.ID)
	}
	if strings.Join(ids, ",") != "job-0003,job-0001" {
		t.Fatalf("bank sees %v, want job-0003,job-0001 (job-0002 lists only the partners)", ids)
	}
	// Its participants page counts only those jobs.
	page := e.do(t, req{path: "/participants", cookie: e.login(t, bank), html: true}).Body.String()
	if !strings.Contains(page, "partner-2") {
		t.Fatalf("participants page lacks partner-2")
	}
}

func TestAdminActions(t *testing.T) {
	e := newEnv(t)
	promote := func(ck *http.Cookie, csrf, version string, hdr map[string]string) *httptest.ResponseRecorder {
		return e.do(t, req{method: "POST", path: "/models/promote", cookie: ck, html: true, header: hdr,
			form: url.Values{"csrf": {csrf}, "version": {version}}})
	}
	part := e.login(t, partner1)
	sci := e.login(t, scientist)
	adm := e.login(t, admin)
	adm2 := e.login(t, admin)

	for _, tc := range []struct {
		name   string
		ck     *http.Cookie
		csrf   string
		header map[string]string
	}{
		{"participant with its own csrf", part, e.csrf(t, part), nil},
		{"scientist with its own csrf", sci, e.csrf(t, sci), nil},
		{"admin without csrf", adm, "", nil},
		{"admin with another session's csrf", adm, e.csrf(t, adm2), nil},
		{"admin with a participant's csrf", adm, e.csrf(t, part), nil},
		{"admin, cross-site", adm, e.csrf(t, adm), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"admin, foreign origin", adm, e.csrf(t, adm), map[string]string{"Origin": "http://evil.example"}},
	} {
		if rec := promote(tc.ck, tc.csrf, "v0", tc.header); rec.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, rec.Code)
		}
	}
	rb := e.do(t, req{method: "POST", path: "/models/rollback", cookie: part, form: url.Values{"csrf": {e.csrf(t, part)}}})
	if rb.Code != http.StatusForbidden {
		t.Errorf("participant rollback: %d, want 403", rb.Code)
	}
	if a := e.src.Actions(); len(a) != 0 {
		t.Fatalf("refused actions reached the source: %v", a)
	}

	csrf := e.csrf(t, adm)
	rec := promote(adm, csrf, "v0", map[string]string{"Sec-Fetch-Site": "same-origin"})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/models?done=promoted" {
		t.Fatalf("admin promote: %d to %q: %s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	page := e.do(t, req{path: "/models?done=promoted", cookie: adm, html: true}).Body.String()
	if !strings.Contains(page, `id="champion">v0<`) || !strings.Contains(page, "Model promoted.") {
		t.Fatalf("models page after promote:\n%s", page)
	}
	if rec := promote(adm, csrf, "v0", nil); rec.Code != http.StatusConflict {
		t.Errorf("promoting the champion: %d, want 409", rec.Code)
	}
	if rec := promote(adm, csrf, "v9", nil); rec.Code != http.StatusNotFound {
		t.Errorf("promoting an unknown version: %d, want 404", rec.Code)
	}
	rec = e.do(t, req{method: "POST", path: "/models/rollback", cookie: adm, form: url.Values{"csrf": {csrf}}, header: map[string]string{"Accept": "application/json"}})
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "rolledback") {
		t.Fatalf("admin rollback: %d %s", rec.Code, rec.Body)
	}
	want := []consoletest.Action{{Who: admin, Kind: "promote", Version: "v0"}, {Who: admin, Kind: "rollback"}}
	if got := e.src.Actions(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("actions %v, want %v", got, want)
	}
}

func TestModelsPageButtonsForAdminOnly(t *testing.T) {
	e := newEnv(t)
	adm := e.do(t, req{path: "/models", cookie: e.login(t, admin), html: true}).Body.String()
	sci := e.do(t, req{path: "/models", cookie: e.login(t, scientist), html: true}).Body.String()
	if !strings.Contains(adm, `action="/models/promote"`) || !strings.Contains(adm, `id="rollback"`) {
		t.Errorf("admin's models page lacks the buttons")
	}
	if strings.Contains(sci, `action="/models/promote"`) || strings.Contains(sci, `id="rollback"`) || !strings.Contains(sci, "Read-only") {
		t.Errorf("scientist's models page offers actions")
	}
	// The champion gets no promote button.
	if strings.Count(adm, `action="/models/promote"`) != 1 {
		t.Errorf("want one promote button (v0), got %d", strings.Count(adm, `action="/models/promote"`))
	}
}

// testCA issues certificates as the coordinator's CA would.
func testCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("console test", pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func verified(t *testing.T, ca *pki.CA, id pki.Identity) *tls.ConnectionState {
	t.Helper()
	iss, err := ca.Issue(id, nil, pki.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert := iss.Cert
	if cert == nil {
		t.Fatal("issued no certificate")
	}
	return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert, ca.Cert}}}
}

func TestClientCertificate(t *testing.T) {
	e := newEnv(t)
	ca := testCA(t)
	st := verified(t, ca, admin)
	me := e.me(t, req{tls: st})
	if me["name"] != "ops" || me["role"] != "admin" || me["via"] != "certificate" || me["may_act"] != true {
		t.Fatalf("/api/me with an admin certificate: %v", me)
	}
	// The certificate alone authorises the admin's action, with its CSRF token.
	rec := e.do(t, req{method: "POST", path: "/models/promote", tls: st, form: url.Values{"csrf": {me["csrf"].(string)}, "version": {"v0"}}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("certificate admin promote: %d %s", rec.Code, rec.Body)
	}
	// A participant's certificate is refused on admin actions.
	pst := verified(t, ca, bank)
	pme := e.me(t, req{tls: pst})
	rec = e.do(t, req{method: "POST", path: "/models/rollback", tls: pst, form: url.Values{"csrf": {pme["csrf"].(string)}}})
	if rec.Code != http.StatusForbidden {
		t.Fatalf("participant certificate rollback: %d, want 403", rec.Code)
	}
	// A certificate the TLS layer did not verify counts for nothing.
	unverified := &tls.ConnectionState{PeerCertificates: st.PeerCertificates}
	if rec := e.do(t, req{path: "/api/me", tls: unverified}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("unverified certificate: %d, want 401", rec.Code)
	}
	// A certificate wins over a cookie.
	me = e.me(t, req{tls: pst, cookie: e.login(t, admin)})
	if me["role"] != "participant" {
		t.Fatalf("certificate and cookie: %v", me)
	}
	// Revoked identities are turned away at once.
	e.revoked["ops"] = true
	if rec := e.do(t, req{path: "/api/me", tls: st}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("revoked certificate: %d, want 401", rec.Code)
	}
}

func TestRevokedSession(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, scientist)
	e.revoked["alice"] = true
	if rec := e.do(t, req{path: "/api/jobs", cookie: ck}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("revoked session: %d", rec.Code)
	}
	tok, _ := e.c.IssueToken(scientist, time.Minute)
	if rec := e.do(t, req{path: "/login?token=" + tok}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("revoked login: %d", rec.Code)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, scientist)
	rec := e.do(t, req{method: "POST", path: "/logout", cookie: ck, form: url.Values{"csrf": {e.csrf(t, ck)}}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", rec.Code)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logout cookies %+v, want one cleared", c)
	}
	if rec := e.do(t, req{path: "/api/jobs", cookie: ck}); rec.Code != http.StatusUnauthorized {
		t.Fatalf("session after logout: %d, want 401", rec.Code)
	}
}

func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestPagesRenderRealData(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, admin)
	get := func(p string) string {
		t.Helper()
		rec := e.do(t, req{path: p, cookie: ck, html: true})
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	contains(t, "jobs page", get("/jobs"),
		`data-job="job-0003" data-state="running"`, "credit-v2", "alice", "bob", `<progress max="100" value="30"`,
		"3/10 rounds", "train", "Nov 1 11:59:10", "0.7731", `data-state="failed"`, "partner-1, partner-2")

	running := get("/jobs/job-0003")
	contains(t, "running job page", running,
		`id="chart-loss"`, `id="chart-loss" class="chart" viewBox="0 0 600 260" role="img" aria-label="Loss" data-points="3"`,
		`id="chart-auc"`, `data-live="/jobs/job-0003?fragment=live"`, `<tr data-round="2" class="dropped">`,
		`<span class="drop">bank</span>`, "2 of 3 answered", "measured next round", `id="report-link" href="/jobs/job-0003/report"`)
	if strings.Contains(running, "data-final") {
		t.Errorf("a running job's page is marked final")
	}
	// Three train-loss points and two validation points (the third round's
	// validation is measured in the next).
	if n := strings.Count(running, `<circle class="pt s1"`); n != 3+2 {
		t.Errorf("running job: %d first-series points over both charts, want 5", n)
	}

	done := get("/jobs/job-0001")
	contains(t, "finished job page", done, `data-final="true"`, `id="final-metrics"`, "0.7731", "0.4231", "6,000", "612")
	if strings.Contains(done, "data-live") {
		t.Errorf("a finished job's page still polls")
	}
	contains(t, "failed job page", get("/jobs/job-0002"), "too few participants answered")

	contains(t, "report", get("/jobs/job-0001/report"), `id="report-metrics"`, "0.7731", "utilization", "0.8800", "45000.00", "-2.3000")
	contains(t, "report of a running job", get("/jobs/job-0003/report"), `id="report-pending"`)

	contains(t, "models page", get("/models"), `data-version="v1" class="champion"`, "job-0001", "0.4231", "scorecard")
	contains(t, "participants page", get("/participants"),
		`data-participant="bank" data-health="degraded"`, `data-participant="partner-1" data-health="up"`,
		`data-participant="partner-2" data-health="down"`, "participant:partner-1", "0.7.2", "2s ago", "10m 00s ago", "1 / 8",
		`<span class="last-drop drop">round 2</span> of <a href="/jobs/job-0003">credit-v2</a>`)
	contains(t, "scores page", get("/scores"), "1,234,567", "42.50", "3.75 ms", `data-version="v1"`, "5m 00s ago", "champion")
}

func TestFragments(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, scientist)
	for _, p := range []string{"/jobs", "/jobs/job-0003", "/participants", "/scores"} {
		rec := e.do(t, req{path: p + "?fragment=live", cookie: ck, html: true})
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("fragment of %s: %d, whole page %v", p, rec.Code, strings.Contains(rec.Body.String(), "<html"))
		}
	}
	// A job that ends while watched: the next fragment says so, and the
	// script stops polling.
	j, _ := e.src.Job(t.Context(), "job-0001")
	j.Id = "job-0003"
	e.src.SetJob(j)
	frag := e.do(t, req{path: "/jobs/job-0003?fragment=live", cookie: ck, html: true}).Body.String()
	contains(t, "fragment of an ended job", frag, `data-final="true"`, `data-points="5"`)
	// Fragments are not redirected to the login page when the session ends.
	e.now = t0.Add(9 * time.Hour)
	if rec := e.do(t, req{path: "/jobs/job-0003?fragment=live", cookie: ck, html: true}); rec.Code != http.StatusUnauthorized {
		t.Errorf("fragment after expiry: %d, want 401", rec.Code)
	}
}

func TestJSONEndpoints(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, scientist)
	get := func(p string, v any) {
		t.Helper()
		rec := e.do(t, req{path: p, cookie: ck})
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %s", p, rec.Code, rec.Header().Get("Content-Type"))
		}
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
	}
	var jobs struct{ Jobs []console.JobView }
	get("/api/jobs", &jobs)
	if len(jobs.Jobs) != 3 || jobs.Jobs[0].ID != "job-0003" || jobs.Jobs[0].RoundsDone != 3 || jobs.Jobs[0].Final == nil || jobs.Jobs[0].History != nil {
		t.Fatalf("/api/jobs: %+v", jobs.Jobs)
	}
	var job console.JobView
	get("/api/jobs/job-0003", &job)
	if job.State != "running" || len(job.History) != 3 || job.History[1].Dropped[0] != "bank" || job.Started == nil || job.SubmittedBy != "alice" {
		t.Fatalf("/api/jobs/job-0003: %+v", job)
	}
	get("/api/jobs/job-0001", &job)
	if job.Final == nil || job.Final.AUC != 0.7731 || job.Model == nil || len(job.Model.Terms) != 3 || !job.Terminal {
		t.Fatalf("/api/jobs/job-0001: %+v", job)
	}
	var models struct{ Models []console.ModelVersion }
	get("/api/models", &models)
	if len(models.Models) != 2 || !models.Models[0].Champion || models.Models[0].Version != "v1" {
		t.Fatalf("/api/models: %+v", models)
	}
	var parts struct{ Participants []console.ParticipantView }
	get("/api/participants", &parts)
	if len(parts.Participants) != 3 || parts.Participants[0].Health != "degraded" || parts.Participants[0].RecentDropouts != 1 || len(parts.Participants[0].Jobs) != 2 {
		t.Fatalf("/api/participants: %+v", parts)
	}
	var scores struct {
		Stats        console.ScoreStats
		Publications []console.Publication
	}
	get("/api/scores", &scores)
	if scores.Stats.StoreCustomers != 1234567 || len(scores.Publications) != 2 || scores.Publications[0].Version != "v1" || !scores.Publications[0].Champion {
		t.Fatalf("/api/scores: %+v", scores)
	}
	rec := e.do(t, req{path: "/api/jobs/nope", cookie: ck})
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"error"`) {
		t.Fatalf("unknown job: %d %s", rec.Code, rec.Body)
	}
}

func TestSourceFailure(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, admin)
	e.src.Err = errors.New("store unavailable")
	rec := e.do(t, req{path: "/jobs", cookie: ck, html: true})
	if rec.Code != http.StatusBadGateway || !strings.Contains(rec.Body.String(), "store unavailable") {
		t.Fatalf("source down: %d %s", rec.Code, rec.Body)
	}
}

var (
	inlineScript = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	eventAttr    = regexp.MustCompile(`\son[a-z]+\s*=`)
	styleAttr    = regexp.MustCompile(`\sstyle\s*=`)
	externalRef  = regexp.MustCompile(`(?:src|href)="(?:https?:)?//`)
)

// The pages must run under their Content-Security-Policy, or Chromium logs
// errors: no inline script, event handler or style attribute, nothing from
// another origin.
func TestPagesFitTheirContentSecurityPolicy(t *testing.T) {
	e := newEnv(t)
	ck := e.login(t, admin)
	for _, p := range []string{"/jobs", "/jobs/job-0001", "/jobs/job-0003", "/jobs/job-0002/report", "/models", "/participants", "/scores", "/login", "/jobs/none"} {
		rec := e.do(t, req{path: p, cookie: ck, html: true})
		body := rec.Body.String()
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		for _, m := range inlineScript.FindAllString(body, -1) {
			if !strings.Contains(m, `src="/static/`) {
				t.Errorf("%s: inline script %q", p, m)
			}
		}
		for name, re := range map[string]*regexp.Regexp{"event handler": eventAttr, "style attribute": styleAttr, "external reference": externalRef} {
			if m := re.FindString(body); m != "" {
				t.Errorf("%s: %s %q", p, name, m)
			}
		}
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t)
	for path, ctype := range map[string]string{
		"/static/console.js":  "javascript",
		"/static/console.css": "text/css",
		"/favicon.ico":        "image/svg+xml",
	} {
		rec := e.do(t, req{path: path})
		if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Content-Type"), ctype) || rec.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	if rec := e.do(t, req{path: "/", cookie: e.login(t, admin)}); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/jobs" {
		t.Errorf("GET /: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
}

func BenchmarkJobPage(b *testing.B) {
	src := consoletest.Federation(t0)
	c, _ := console.New(console.Config{Source: src, Now: func() time.Time { return t0 }})
	tok, _ := c.IssueToken(scientist, time.Minute)
	rec := httptest.NewRecorder()
	c.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/login?token="+tok, nil))
	ck := rec.Result().Cookies()[0]
	for b.Loop() {
		r := httptest.NewRequest("GET", "/jobs/job-0001", nil)
		r.AddCookie(ck)
		w := httptest.NewRecorder()
		c.Handler().ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
