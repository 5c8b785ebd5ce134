package secagg

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// benchRound is one round prepared for benchmarking: every message of every
// participant, encoded, so that a participant's or the coordinator's work
// can be replayed and timed alone. Participant u draws its randomness from
// seeded(1000+u), so re-running it reproduces its messages exactly.
type benchRound struct {
	plan   *Plan
	inputs [][][]uint64
	up     [4][][]byte // per phase index (0,1,2,3=unmasking): participant → coordinator
	roster []byte
	inbox  map[uint32][]byte
	req    map[uint32][]byte
}

// dropSpec splits the dropouts: the first a participants (by index, after
// skipping participant 0, which is benchmarked) drop at phase 0, the next
// s at phase 1, the next m at phase 2.
func dropSpec(n int, adv, share, mask int) Dropouts {
	d := Dropouts{}
	u := uint32(n - 1)
	for ph, k := range map[Phase]int{PhaseAdvertiseKeys: adv, PhaseShareKeys: share, PhaseMaskedInput: mask} {
		for range k {
			d[ph] = append(d[ph], u)
			u--
		}
	}
	return d
}

func newBenchRound(tb testing.TB, n, m int, drop Dropouts) *benchRound {
	p := Params{Job: "bench", Round: 1, Participants: ids(n), VectorLens: []int{m}}
	pl := mustPlan(tb, p)
	rng := rand.New(rand.NewPCG(7, 7))
	br := &benchRound{plan: pl, inputs: randomInputs(rng, n, p.VectorLens), inbox: map[uint32][]byte{}, req: map[uint32][]byte{}}
	dropped := map[uint32]Phase{}
	for ph, us := range drop {
		for _, u := range us {
			dropped[u] = ph
		}
	}
	gone := func(u uint32, ph Phase) bool { at, ok := dropped[u]; return ok && at <= ph }
	srv := NewServerFromPlan(pl)
	cs := make([]*Client, n)
	for u := range cs {
		cs[u], _ = NewClientFromPlan(pl, uint32(u), seeded(1000+uint64(u)))
	}
	for i := range br.up {
		br.up[i] = make([][]byte, n)
	}
	send := func(i int, u uint32, m Message, err error) {
		if err != nil {
			tb.Fatal(err)
		}
		b, err := m.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		br.up[i][u] = b
		if err := srv.ReceiveBytes(u, b); err != nil {
			tb.Fatal(err)
		}
	}
	enc := func(m Message) []byte { b, _ := m.MarshalBinary(); return b }
	for u := range uint32(n) {
		if !gone(u, PhaseAdvertiseKeys) {
			m, err := cs[u].Advertise()
			send(0, u, m, err)
		}
	}
	roster, err := srv.Roster()
	if err != nil {
		tb.Fatal(err)
	}
	br.roster = enc(roster)
	for u := range uint32(n) {
		if !gone(u, PhaseShareKeys) {
			m, err := cs[u].ShareKeys(roster)
			send(1, u, m, err)
		}
	}
	inboxes, err := srv.Inboxes()
	if err != nil {
		tb.Fatal(err)
	}
	for _, in := range inboxes {
		br.inbox[in.To] = enc(in)
		if !gone(in.To, PhaseMaskedInput) {
			m, err := cs[in.To].MaskInput(in, br.inputs[in.To]...)
			send(2, in.To, m, err)
		}
	}
	reqs, err := srv.UnmaskRequests()
	if err != nil {
		tb.Fatal(err)
	}
	for _, r := range reqs {
		br.req[r.To] = enc(r)
		if !gone(r.To, PhaseUnmasking) {
			m, err := cs[r.To].Unmask(r)
			send(3, r.To, m, err)
		}
	}
	if _, err := srv.Sum(); err != nil {
		tb.Fatal(err)
	}
	return br
}

// client replays participant u's four steps, decoding what it receives and
// encoding what it sends, as a participant process would.
func (br *benchRound) client(tb testing.TB, u uint32) {
	c, err := NewClientFromPlan(br.plan, u, seeded(1000+uint64(u)))
	if err != nil {
		tb.Fatal(err)
	}
	must := func(m Message, err error) {
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := m.MarshalBinary(); err != nil {
			tb.Fatal(err)
		}
	}
	must(c.Advertise())
	var r Roster
	if err := r.UnmarshalBinary(br.roster); err != nil {
		tb.Fatal(err)
	}
	must(c.ShareKeys(&r))
	var in ShareInbox
	if err := in.UnmarshalBinary(br.inbox[u]); err != nil {
		tb.Fatal(err)
	}
	must(c.MaskInput(&in, br.inputs[u]...))
	var req UnmaskRequest
	if err := req.UnmarshalBinary(br.req[u]); err != nil {
		tb.Fatal(err)
	}
	must(c.Unmask(&req))
}

// server replays every participant message into a fresh coordinator and
// returns it with phase 4's messages received and Sum not yet called.
func (br *benchRound) server(tb testing.TB, workers int) *Server {
	pl := *br.plan
	pl.workers = workers
	srv := NewServerFromPlan(&pl)
	closers := []func() error{
		func() error { _, err := srv.Roster(); return err },
		func() error { _, err := srv.Inboxes(); return err },
		func() error { _, err := srv.UnmaskRequests(); return err },
	}
	for i, msgs := range br.up {
		for u, b := range msgs {
			if b != nil {
				if err := srv.ReceiveBytes(uint32(u), b); err != nil {
					tb.Fatal(err)
				}
			}
		}
		if i < len(closers) {
			if err := closers[i](); err != nil {
				tb.Fatal(err)
			}
		}
	}
	return srv
}

func ms(d time.Duration, n int) float64 { return float64(d.Microseconds()) / 1000 / float64(n) }

var benchScenarios = []struct {
	name             string
	adv, share, mask int // dropouts per phase, out of 100
}{
	{"drop30-spread", 10, 10, 10},
	{"drop30-late", 0, 0, 30},
}

// BenchmarkClient is one participant's protocol CPU at n = 100, m = 100,000
// (target from issue 3: client_ms <= 25).
func BenchmarkClient(b *testing.B) {
	for _, sc := range benchScenarios {
		b.Run(fmt.Sprintf("n100-m100k-%s", sc.name), func(b *testing.B) {
			br := newBenchRound(b, 100, 100_000, dropSpec(100, sc.adv, sc.share, sc.mask))
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			b.ResetTimer()
			start := time.Now()
			cpu0, ok := threadCPU()
			for b.Loop() {
				br.client(b, 0)
			}
			cpu1, _ := threadCPU()
			b.ReportMetric(ms(time.Since(start), b.N), "client_ms")
			if ok {
				b.ReportMetric(ms(cpu1-cpu0, b.N), "client_cpu_ms")
			}
		})
	}
}

// BenchmarkServerUnmask is the coordinator's Sum (recovery, mask removal) at
// n = 100, m = 100,000 (target from issue 3: server_unmask_ms <= 300).
func BenchmarkServerUnmask(b *testing.B) {
	for _, sc := range benchScenarios {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("n100-m100k-%s-workers%d", sc.name, workers), func(b *testing.B) {
				br := newBenchRound(b, 100, 100_000, dropSpec(100, sc.adv, sc.share, sc.mask))
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var total, cpu time.Duration
				for b.Loop() {
					b.StopTimer()
					srv := br.server(b, workers)
					b.StartTimer()
					t0 := time.Now()
					c0, _ := threadCPU()
					if _, err := srv.Sum(); err != nil {
						b.Fatal(err)
					}
					c1, _ := threadCPU()
					total += time.Since(t0)
					cpu += c1 - c0
				}
				b.ReportMetric(ms(total, b.N), "server_unmask_ms")
				if _, ok := threadCPU(); ok && workers == 1 {
					b.ReportMetric(ms(cpu, b.N), "server_unmask_cpu_ms")
				}
			})
		}
	}
}
