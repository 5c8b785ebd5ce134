package scores

import (
	"sync"
	"sync/atomic"
)

// interner turns the few distinct tiers and reason codes into shared
// strings, so that reading a score does not allocate them again. Lookups are
// lock-free; the table is copied on write and stops growing at max entries,
// after which unknown strings are simply allocated.
type interner struct {
	m   atomic.Pointer[map[string]string]
	mu  sync.Mutex
	max int
}

func newInterner(max int) *interner {
	in := &interner{max: max}
	m := map[string]string{}
	in.m.Store(&m)
	return in
}

func (in *interner) str(b []byte) string {
	if s, ok := (*in.m.Load())[string(b)]; ok {
		return s
	}
	s := string(b)
	in.mu.Lock()
	defer in.mu.Unlock()
	old := *in.m.Load()
	if _, ok := old[s]; ok || len(old) >= in.max {
		return s
	}
	m := make(map[string]string, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[s] = s
	in.m.Store(&m)
	return s
}
