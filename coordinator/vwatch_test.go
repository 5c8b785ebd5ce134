package coordinator

import (
	"strings"
	"testing"
	"time"
)

// The watchdog's verdicts on an attempt's relay session: who has not
// joined in time, and whom an idle session blames.
func TestAttemptWatchOverdue(t *testing.T) {
	const join, idle = time.Minute, 2 * time.Minute
	start := time.Now()
	w := newAttemptWatch(start, "bank", "partner-1", "coordinator")
	if _, _, late := w.overdue(start.Add(join/2), join, idle); late {
		t.Fatal("late before the join timeout")
	}
	w.joined("bank")
	w.joined("coordinator")
	party, reason, late := w.overdue(time.Now().Add(join), join, idle)
	if !late || party != "partner-1" || !strings.Contains(reason, "partner-1 has not opened a stream") {
		t.Fatalf("a party that never joined: %v %q %q", late, party, reason)
	}
	w2 := newAttemptWatch(start, "bank", "partner-1", "helper")
	if party, _, _ := w2.overdue(time.Now().Add(join), join, idle); party != "bank,partner-1,helper" {
		t.Fatalf("nobody joined: blamed %q", party)
	}

	// All joined: the session is idle only after the idle timeout, and
	// blames the party silent the longest.
	w.joined("partner-1")
	w.sending("coordinator")(true)
	w.left("coordinator") // dealt everything and closed its side
	w.sending("partner-1")(true)
	time.Sleep(time.Millisecond)
	w.sending("bank")(true) // the bank spoke last: the partner owes the answer
	if _, _, late := w.overdue(time.Now().Add(idle/2), join, idle); late {
		t.Fatal("idle before the idle timeout")
	}
	if party, reason, late := w.overdue(time.Now().Add(idle), join, idle); !late || party != "partner-1" || !strings.Contains(reason, "idle timeout") {
		t.Fatalf("the silent partner: %v %q %q", late, party, reason)
	}
	// A party blocked delivering to a full inbox waits on its peer.
	done := w.sending("partner-1")
	if party, _, _ := w.overdue(time.Now().Add(idle), join, idle); party != "bank" {
		t.Fatalf("the partner waiting to deliver was blamed over %q", party)
	}
	done(true)
	// A report is activity.
	w.touch()
	if _, _, late := w.overdue(time.Now().Add(idle/2), join, idle); late {
		t.Fatal("idle right after a report")
	}
	// Everyone closed the session, and the bank never reported the end.
	w.left("bank")
	w.left("partner-1")
	if party, reason, late := w.overdue(time.Now().Add(idle), join, idle); !late || party != "bank" || !strings.Contains(reason, "has not reported") {
		t.Fatalf("after everyone left: %v %q %q", late, party, reason)
	}
	var nilWatch *attemptWatch
	nilWatch.joined("x")
	nilWatch.sending("x")(true)
	nilWatch.left("x")
	nilWatch.touch()
	if _, _, late := nilWatch.overdue(time.Now().Add(time.Hour), join, idle); late {
		t.Fatal("a nil watch is never late")
	}
}
