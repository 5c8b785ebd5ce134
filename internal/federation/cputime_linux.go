package federation

import (
	"syscall"
	"time"
)

// threadClock reads the calling OS thread's CPU time (user + system) as a
// time.Time, so that the protocol's parties can be timed by the work they
// do rather than by a wall clock the other processes on a shared machine
// stretch. The caller must hold its goroutine on one thread.
func threadClock() (func() time.Time, bool) {
	return func() time.Time {
		var ru syscall.Rusage
		if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
			return time.Now()
		}
		return time.Unix(0, ru.Utime.Nano()+ru.Stime.Nano())
	}, true
}
