//go:build !linux

package federation

import "time"

// threadClock falls back to the wall clock where thread CPU time is not
// available.
func threadClock() (func() time.Time, bool) { return time.Now, false }
