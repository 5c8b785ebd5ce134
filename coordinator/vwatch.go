package coordinator

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/audit"
)

// Default timeouts of a vertical attempt (Config.VerticalJoinTimeout and
// Config.VerticalIdleTimeout).
const (
	// DefaultVerticalJoinTimeout is how long an attempt waits, once both
	// data parties have joined the job, for every party (the helper too)
	// to open its stream in the job's relay session. A party opens it
	// right after its join returns, so minutes cover a slow start.
	DefaultVerticalJoinTimeout = 3 * time.Minute
	// DefaultVerticalIdleTimeout is how long a running attempt may go
	// without a message through its relay session (or a report) before it
	// fails. Messages flow at every iteration and through every setup
	// step; a party that computes for longer than this between two
	// messages is not a slow party but a stuck one.
	DefaultVerticalIdleTimeout = 10 * time.Minute
)

// partyActivity is one party's part in an attempt's relay session.
type partyActivity struct {
	joined  time.Time // when it opened its stream; zero until then
	last    time.Time // when its last envelope was delivered
	sending int       // envelopes it is waiting to deliver (a full inbox)
	left    bool      // its stream ended (a clean end: an unclean one fails the job at once)
}

// attemptWatch follows the relay session of one vertical attempt for the
// watchdog: who has opened a stream, and when each party last spoke. It
// sees the parties' envelopes pass, never their content. Its methods are
// safe on a nil watch (a session that is not a vertical attempt's).
type attemptWatch struct {
	mu       sync.Mutex
	expected []string // bank, partner, helper
	started  time.Time
	active   time.Time // last delivery, report or join
	parties  map[string]*partyActivity
}

func newAttemptWatch(now time.Time, expected ...string) *attemptWatch {
	w := &attemptWatch{expected: expected, started: now, active: now, parties: map[string]*partyActivity{}}
	for _, p := range expected {
		w.parties[p] = &partyActivity{}
	}
	return w
}

func (w *attemptWatch) party(p string) *partyActivity {
	a := w.parties[p]
	if a == nil {
		a = &partyActivity{}
		w.parties[p] = a
	}
	return a
}

// joined records that p opened its stream.
func (w *attemptWatch) joined(p string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	a := w.party(p)
	a.joined, a.left = now, false
	w.active = now
}

// left records that p's stream ended.
func (w *attemptWatch) left(p string) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.party(p).left = true
}

// sending records that p is delivering an envelope, and returns what to
// call once it is delivered (or not).
func (w *attemptWatch) sending(p string) func(delivered bool) {
	if w == nil {
		return func(bool) {}
	}
	w.mu.Lock()
	w.party(p).sending++
	w.mu.Unlock()
	return func(delivered bool) {
		w.mu.Lock()
		defer w.mu.Unlock()
		a := w.party(p)
		a.sending--
		if delivered {
			now := time.Now()
			a.last, w.active = now, now
		}
	}
}

// touch records activity outside the relay (a party's report).
func (w *attemptWatch) touch() {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.active = time.Now()
}

// overdue says whether the attempt has outlived a timeout at now, and
// whom to blame: the parties that have not opened their stream within
// joinTimeout of the start, or, once all have, the party silent the
// longest when the session has carried nothing for idleTimeout. A party
// waiting to deliver (its peer's inbox is full) is waiting on that peer,
// so it is blamed only if every party left in the session is.
func (w *attemptWatch) overdue(now time.Time, joinTimeout, idleTimeout time.Duration) (party, reason string, late bool) {
	if w == nil {
		return "", "", false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var missing []string
	for _, p := range w.expected {
		if w.parties[p].joined.IsZero() {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		if now.Sub(w.started) < joinTimeout {
			return "", "", false
		}
		verb := "has"
		if len(missing) > 1 {
			verb = "have"
		}
		return strings.Join(missing, ","), fmt.Sprintf("%s %s not opened a stream in the job's relay session within %v of the attempt's start (the vertical join timeout)",
			strings.Join(missing, " and "), verb, joinTimeout), true
	}
	idle := now.Sub(w.active)
	if idle < idleTimeout {
		return "", "", false
	}
	pick := func(waitingOK bool) (string, time.Time) {
		var who string
		var since time.Time
		for _, p := range w.expected {
			a := w.parties[p]
			if a.left || (a.sending > 0 && !waitingOK) {
				continue
			}
			t := a.last
			if t.IsZero() {
				t = a.joined
			}
			if who == "" || t.Before(since) {
				who, since = p, t
			}
		}
		return who, since
	}
	who, since := pick(false)
	if who == "" {
		who, since = pick(true)
	}
	if who == "" {
		// Everyone closed the session; only the bank's report of the end
		// of training is missing.
		return w.expected[0], fmt.Sprintf("every party closed the relay session, but %s has not reported the end of training for %v (the vertical idle timeout)",
			w.expected[0], idle.Round(time.Millisecond)), true
	}
	return who, fmt.Sprintf("nothing passed through the relay session for %v (the vertical idle timeout); %s, still in it, has sent nothing for %v, the longest of the parties",
		idle.Round(time.Millisecond), who, now.Sub(since).Round(time.Millisecond)), true
}

// watchdog fails attempt att when it outlives its join or idle timeout,
// naming the party at fault, aborting the others' streams and auditing the
// timeout; the job can then be resumed. It ends with the attempt.
func (vr *verticalRun) watchdog(att *vattempt) {
	co := vr.co
	defer co.wg.Done()
	joinTimeout, idleTimeout := co.cfg.VerticalJoinTimeout, co.cfg.VerticalIdleTimeout
	tick := min(max(min(joinTimeout, idleTimeout)/10, 10*time.Millisecond), 5*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-att.ended:
			return
		case <-co.ctx.Done():
			return
		case <-t.C:
		}
		party, why, late := att.watch.overdue(time.Now(), joinTimeout, idleTimeout)
		if !late {
			continue
		}
		vr.mu.Lock()
		current := vr.att == att && vr.job.GetState() == fedscorepb.JobState_JOB_STATE_RUNNING
		id, it := vr.job.GetId(), vr.job.GetVertical().GetIteration()
		vr.mu.Unlock()
		if !current {
			return
		}
		reason := fmt.Sprintf("attempt %d timed out after iteration %d, the last the bank reported: %s; the parties keep their checkpoints: resume with `fedscore job resume %s`", att.n, it, why, id)
		co.log.Warn("vertical attempt timed out", "job", id, "attempt", att.n, "party", party, "reason", why)
		co.audit(audit.Record{Actor: "coordinator", Action: "vertical.timeout", Object: id, Outcome: "failed", Detail: party + ": " + why})
		vr.failAttempt(att.n, party, reason)
		return
	}
}
