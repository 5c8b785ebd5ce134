// Package e2e holds fedscore's end-to-end tests that need more than Go: the
// web console driven in headless Chromium (Debian's chromium package)
// against a live federation. They run only when FEDSCORE_E2E=1, as
// `make e2e` sets it, so `make test` needs no browser.
package e2e
