package scores

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The crash test re-executes the test binary as a child that publishes
// batches and prints "ack N" after Publish returned for batch N. The parent
// SIGKILLs it at a random moment, then checks the store: it opens cleanly
// and passes bbolt's consistency check, every acknowledged batch is there
// in full, and every batch is all there or not at all.
const crashEnv = "FEDSCORE_SCORES_CRASH_CHILD"

// crashRows is the number of rows of batch i: 100 to 6,000, so that kills
// land in validation, in the write and in the fsync.
func crashRows(i int) int { return 100 + (i*7919)%5900 }

func crashRow(i, j int) Row {
	return Row{
		CustomerID: fmt.Sprintf("b%05d-%05d", i, j),
		PD:         float64((i*31+j)%1000) / 1000,
		Points:     float64(i),
		Tier:       string(rune('A' + (i+j)%5)),
		Reasons:    []string{"batch" + strconv.Itoa(i)},
		ScoredAt:   at,
	}
}

func crashBatch(i int) Batch {
	b := Batch{ID: fmt.Sprintf("crash-%d", i), ModelVersion: "v1", Participant: "child", Rows: make([]Row, crashRows(i))}
	for j := range b.Rows {
		b.Rows[j] = crashRow(i, j)
	}
	return b
}

// TestCrashChild is the child; it does nothing unless run by TestCrash.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("run by TestCrash")
	}
	path, startStr, _ := strings.Cut(spec, ";")
	start, _ := strconv.Atoi(startStr)
	st, err := Open(path, &Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	for i := start; ; i++ {
		if _, err := st.Publish(ctx, crashBatch(i)); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Println("ack", i)
	}
}

func TestCrash(t *testing.T) {
	runs := 30
	if testing.Short() {
		runs = 8
	}
	path := filepath.Join(t.TempDir(), "scores.db")
	st, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	register(t, st, "v1")
	st.Close()

	rng := rand.New(rand.NewPCG(5, 5))
	acked := -1 // highest batch acknowledged so far; batches are published in order
	kills := 0
	var childTime, checkTime time.Duration
	for run := 0; run < runs; run++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		// Each child starts at the batch after the last acknowledged one, so
		// a batch committed but not acknowledged before the kill is
		// published again: a replay across a crash.
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s;%d", crashEnv, path, acked+1))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var killAt <-chan time.Time
		t0 := time.Now()
	read:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break read
				}
				switch {
				case line == "ready":
					killAt = time.After(time.Duration(rng.IntN(250_000)) * time.Microsecond)
				case strings.HasPrefix(line, "ack "):
					n, _ := strconv.Atoi(line[4:])
					if n != acked+1 {
						t.Fatalf("run %d: ack %d after %d", run, n, acked)
					}
					acked = n
				case strings.HasPrefix(line, "error"):
					t.Fatalf("run %d: child: %s", run, line)
				}
			case <-killAt:
				cmd.Process.Signal(syscall.SIGKILL)
				killAt = nil
				kills++
			case <-time.After(time.Minute):
				cmd.Process.Signal(syscall.SIGKILL)
				t.Fatalf("run %d: child silent for a minute", run)
			}
		}
		childTime += time.Since(t0)
		cmd.Wait()
		t1 := time.Now()
		checkCrashStore(t, path, acked)
		checkTime += time.Since(t1)
	}
	if acked+1 < 5 {
		t.Errorf("only %d batches acknowledged in %d runs: the test did not exercise much", acked+1, runs)
	}
	t.Logf("%d kills, %d batches acknowledged; children ran %v, checks took %v", kills, acked+1, childTime, checkTime)
}

// checkCrashStore opens the store and checks it against the acknowledged
// batches 0..acked.
func checkCrashStore(t *testing.T, path string, acked int) {
	t.Helper()
	st, err := Open(path, nil)
	if err != nil {
		t.Fatalf("store does not open after kill: %v", err)
	}
	defer st.Close()
	err = st.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("bbolt check: %w", err)
		}
		present := map[int]int{}
		var bad error
		c := tx.Bucket(scoreBucket("v1")).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 12 || k[0] != 'b' || k[6] != '-' {
				return fmt.Errorf("stray key %q", k)
			}
			i, err1 := strconv.Atoi(string(k[1:6]))
			j, err2 := strconv.Atoi(string(k[7:]))
			if err1 != nil || err2 != nil {
				return fmt.Errorf("stray key %q", k)
			}
			var got view
			if err := decodeValue(v, &got); err != nil {
				return err
			}
			if got.pd != float64((i*31+j)%1000)/1000 || got.points != float64(i) || got.tier[0] != byte('A'+(i+j)%5) {
				bad = fmt.Errorf("customer %q: value %+v, want %+v", k, got, crashRow(i, j))
			}
			present[i]++
		}
		if bad != nil {
			return bad
		}
		batches := tx.Bucket(bucketBatches)
		for i := 0; i <= acked+1 || present[i] > 0; i++ {
			recorded := batches.Get([]byte(fmt.Sprintf("crash-%d", i))) != nil
			switch n := present[i]; {
			case n != 0 && n != crashRows(i):
				return fmt.Errorf("batch %d partly present: %d of %d rows", i, n, crashRows(i))
			case i <= acked && n == 0:
				return fmt.Errorf("acknowledged batch %d missing", i)
			case recorded != (n > 0):
				return fmt.Errorf("batch %d: recorded %v but %d rows present", i, recorded, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after kill with %d batches acknowledged: %v", acked+1, err)
	}
}
