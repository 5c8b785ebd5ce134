// Package console is fedscore's web console: the pages a data scientist and
// an operator open in a browser to follow a federation. It is served by the
// coordinator process itself (Handler), with every asset embedded by
// go:embed, so nothing needs to be built or installed to run it.
//
// The pages are
//
//   - /jobs: every job with its state, progress, start, end and submitter;
//   - /jobs/{id}: one job, with its per-round loss and AUC curves drawn as
//     inline SVG and refreshed while it trains, the participants and
//     dropouts of each round, and its final metrics;
//   - /jobs/{id}/report: the job's model report (metrics and coefficients);
//   - /models: model versions and the champion, with promote and roll back
//     for an administrator;
//   - /participants: each participant's identity, connection, last contact,
//     jobs and recent dropouts;
//   - /scores: the score store's size, query rate and latency, and the last
//     publication of each model version.
//
// The same data is served as JSON under /api/ for scripts.
//
// Data comes through a Source, which the coordinator implements; the console
// holds no state of its own beyond its signing key.
//
// # Access
//
// A viewer is one of the federation's provisioned identities (package
// secure/pki), proven either by a verified TLS client certificate or by a
// login link. IssueToken signs a short-lived, single-use login token with
// HMAC-SHA256; GET /login?token=... exchanges it for a session cookie
// (HttpOnly, SameSite=Strict) that carries a signed session token of its
// own. What a viewer sees follows the API's roles: scientists and admins
// see everything, a participant sees the participants page and the jobs
// that list it, other roles see jobs and models read-only. Only an admin may
// promote or roll back a model, by a POST that carries a CSRF token bound to
// the session and that passes net/http's cross-origin protection.
//
// Pages set a strict Content-Security-Policy: no inline script or style,
// nothing loaded from another origin.
package console
