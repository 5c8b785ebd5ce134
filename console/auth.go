package console

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/fedscore/fedscore/secure/pki"
)

// Errors of authentication.
var (
	ErrBadToken     = errors.New("console: invalid token")
	ErrExpiredToken = errors.New("console: token expired")
	ErrUsedToken    = errors.New("console: login token already used")
	ErrRevoked      = errors.New("console: identity revoked")
)

const (
	cookieName   = "fedscore_console"
	tokenVersion = "v1"
	kindLogin    = "login"
	kindSession  = "session"
	// MaxLoginTTL bounds how long a login token may stay valid.
	MaxLoginTTL = 24 * time.Hour
)

// claims is what a token says. It travels as JSON, base64url-encoded,
// followed by its HMAC-SHA256 under the console's key.
type claims struct {
	Kind  string   `json:"k"`
	Name  string   `json:"n"`
	Role  pki.Role `json:"r"`
	Exp   int64    `json:"e"` // Unix seconds
	Nonce string   `json:"j"`
}

func (c claims) identity() pki.Identity { return pki.Identity{Name: c.Name, Role: c.Role} }

// IssueToken signs a single-use login token for id, valid for ttl (at most
// MaxLoginTTL). GET /login?token=TOKEN exchanges it for a session.
func (c *Console) IssueToken(id pki.Identity, ttl time.Duration) (string, error) {
	if err := id.Validate(); err != nil {
		return "", fmt.Errorf("console: issue token: %w", err)
	}
	if ttl <= 0 || ttl > MaxLoginTTL {
		return "", fmt.Errorf("console: issue token: ttl %v outside (0, %v]", ttl, MaxLoginTTL)
	}
	return c.sign(claims{Kind: kindLogin, Name: id.Name, Role: id.Role, Exp: c.now().Add(ttl).Unix()})
}

// LoginURL is IssueToken as a link: base is the console's address as the
// viewer's browser reaches it, e.g. "https://coordinator.example:8443".
func (c *Console) LoginURL(base string, id pki.Identity, ttl time.Duration) (string, error) {
	tok, err := c.IssueToken(id, ttl)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(base, "/") + "/login?token=" + tok, nil
}

func (c *Console) sign(cl claims) (string, error) {
	nonce := make([]byte, 16)
	if _, err := c.cfg.Rand.Read(nonce); err != nil {
		return "", fmt.Errorf("console: token nonce: %w", err)
	}
	cl.Nonce = hex.EncodeToString(nonce)
	payload, err := json.Marshal(cl)
	if err != nil {
		return "", err
	}
	body := tokenVersion + "." + base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + base64.RawURLEncoding.EncodeToString(c.mac("token|"+body)), nil
}

func (c *Console) mac(msg string) []byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// verify checks a token's signature, kind, expiry and identity.
func (c *Console) verify(tok, kind string) (claims, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] != tokenVersion {
		return claims{}, ErrBadToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, c.mac("token|"+parts[0]+"."+parts[1])) {
		return claims{}, ErrBadToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return claims{}, ErrBadToken
	}
	var cl claims
	if err := json.Unmarshal(payload, &cl); err != nil || cl.Kind != kind || cl.Nonce == "" {
		return claims{}, ErrBadToken
	}
	if !c.now().Before(time.Unix(cl.Exp, 0)) {
		return claims{}, ErrExpiredToken
	}
	if err := cl.identity().Validate(); err != nil {
		return claims{}, ErrBadToken
	}
	if c.revoked(cl.Name) {
		return claims{}, ErrRevoked
	}
	if c.spent(cl.Nonce) {
		return claims{}, ErrUsedToken
	}
	return cl, nil
}

// spend records that a nonce may not be used again before exp.
func (c *Console) spend(nonce string, exp int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now().Unix()
	for n, e := range c.spentNonces {
		if e < now {
			delete(c.spentNonces, n)
		}
	}
	if _, ok := c.spentNonces[nonce]; ok {
		return false
	}
	c.spentNonces[nonce] = exp
	return true
}

func (c *Console) spent(nonce string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.spentNonces[nonce]
	return ok
}

func (c *Console) revoked(name string) bool {
	return c.cfg.Revoked != nil && c.cfg.Revoked(name)
}

// viewer is who is looking, and how they proved it.
type viewer struct {
	ID pki.Identity
	// Via is "certificate" or "login".
	Via string
	// binding ties CSRF tokens to this session or certificate.
	binding string
	// nonce and exp of the session token, for logout.
	nonce string
	exp   int64
}

type viewerKey struct{}

func viewerFrom(ctx context.Context) *viewer {
	v, _ := ctx.Value(viewerKey{}).(*viewer)
	return v
}

// identify returns who made the request: a verified client certificate
// wins over a session cookie.
func (c *Console) identify(r *http.Request) (*viewer, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		id, err := pki.FromCertificate(cert)
		if err != nil {
			return nil, err
		}
		if c.revoked(id.Name) {
			return nil, ErrRevoked
		}
		fp := sha256.Sum256(cert.Raw)
		return &viewer{ID: id, Via: "certificate", binding: "cert|" + id.String() + "|" + hex.EncodeToString(fp[:])}, nil
	}
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, ErrBadToken
	}
	cl, err := c.verify(ck.Value, kindSession)
	if err != nil {
		return nil, err
	}
	return &viewer{ID: cl.identity(), Via: "login", binding: "session|" + cl.Nonce, nonce: cl.Nonce, exp: cl.Exp}, nil
}

// csrf is the token a viewer's forms must carry to act.
func (c *Console) csrf(v *viewer) string {
	return base64.RawURLEncoding.EncodeToString(c.mac("csrf|" + v.binding))
}

func (c *Console) checkCSRF(r *http.Request, v *viewer) bool {
	got := r.PostFormValue("csrf")
	if got == "" {
		got = r.Header.Get("X-CSRF-Token")
	}
	return got != "" && hmac.Equal([]byte(got), []byte(c.csrf(v)))
}

// area is a part of the console that a role may or may not see.
type area int

const (
	areaJobs area = iota
	areaModels
	areaParticipants
	areaScores
)

// may reports whether the viewer's role may see an area. Scientists and
// admins see everything; a participant sees the participants page and the
// jobs that list it; every other role sees jobs and models.
func (v *viewer) may(a area) bool {
	switch v.ID.Role {
	case pki.Admin, pki.Scientist:
		return true
	case pki.Participant:
		return a == areaJobs || a == areaParticipants
	default:
		return a == areaJobs || a == areaModels
	}
}

// MayAct reports whether the viewer may promote and roll back models.
func (v *viewer) MayAct() bool { return v.ID.Role == pki.Admin }

// Nav is what the page header links to.
func (v *viewer) Nav() []navItem {
	var out []navItem
	for _, n := range navItems {
		if v.may(n.area) {
			out = append(out, n)
		}
	}
	return out
}

type navItem struct {
	Path, Label string
	area        area
}

var navItems = []navItem{
	{"/jobs", "Jobs", areaJobs},
	{"/models", "Models", areaModels},
	{"/participants", "Participants", areaParticipants},
	{"/scores", "Scores", areaScores},
}

// handleLogin exchanges a login token for a session cookie, or shows how
// to get one.
func (c *Console) handleLogin(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("token")
	if tok == "" {
		c.render(w, r, http.StatusOK, "login", page{Title: "Sign in"})
		return
	}
	cl, err := c.verify(tok, kindLogin)
	if err == nil && !c.spend(cl.Nonce, cl.Exp) {
		err = ErrUsedToken
	}
	if err != nil {
		c.cfg.Log.Warn("console login refused", "err", err, "remote", r.RemoteAddr)
		c.render(w, r, http.StatusUnauthorized, "login", page{Title: "Sign in", Error: loginError(err)})
		return
	}
	exp := c.now().Add(c.cfg.SessionTTL)
	sess, err := c.sign(claims{Kind: kindSession, Name: cl.Name, Role: cl.Role, Exp: exp.Unix()})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: sess, Path: "/", Expires: exp, MaxAge: int(c.cfg.SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	c.cfg.Log.Info("console login", "identity", cl.identity().String(), "remote", r.RemoteAddr)
	http.Redirect(w, r, "/jobs", http.StatusSeeOther)
}

func loginError(err error) string {
	switch {
	case errors.Is(err, ErrExpiredToken):
		return "This login link has expired. Ask for a new one."
	case errors.Is(err, ErrUsedToken):
		return "This login link has already been used. Ask for a new one."
	case errors.Is(err, ErrRevoked):
		return "This identity has been revoked."
	default:
		return "This login link is not valid."
	}
}

// handleLogout ends a login session: its token is refused from now on.
func (c *Console) handleLogout(w http.ResponseWriter, r *http.Request) {
	v := viewerFrom(r.Context())
	if v.nonce != "" {
		c.spend(v.nonce, v.exp)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
