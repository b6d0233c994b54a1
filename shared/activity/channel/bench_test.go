package channel_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
	"github.com/stepwise-run/stepwise/shared/state"
)

// syntheticPopulation writes n customers with DuckDB (no Go rows).
func (h *harness) syntheticPopulation(run string, n int) activity.Input {
	h.t.Helper()
	ref := dataset.PortRef(run, "everyone", "out")
	q := "SELECT 'c' || lpad(CAST(i AS VARCHAR), 8, '0') AS customerId, 'Name' || i AS firstName, " +
		"'user' || i || '@example.com' AS email, '+336' || lpad(CAST(i AS VARCHAR), 8, '0') AS phone, 'tok-' || i AS pushToken, " +
		"CASE i % 3 WHEN 0 THEN 'gold' WHEN 1 THEN 'silver' ELSE 'bronze' END AS tier, true AS emailOptIn, true AS smsOptIn, " +
		"CASE i % 4 WHEN 0 THEN 'Europe/Paris' WHEN 1 THEN 'America/New_York' WHEN 2 THEN 'Asia/Tokyo' ELSE NULL END AS timezone " +
		"FROM range(?) t(i) ORDER BY i"
	m, err := h.engine().Write(context.Background(), dataset.Output{Ref: ref, Dimension: "customers", Key: []string{"customerId"}}, q, n)
	if err != nil {
		h.t.Fatal(err)
	}
	s := string(ref)
	return activity.Input{From: "everyone", Port: "out", Ref: &s, Count: m.Rows}
}

func benchN(t *testing.T, def int) int {
	s := os.Getenv("STEPWISE_BENCH_N")
	if s == "" {
		t.Skip("set STEPWISE_BENCH_N (e.g. 1000000) to run the throughput benchmark")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return def
	}
	return n
}

// Throughput of rendering + outbox: the `news` email (html file, subject
// and text templates, an A/B experiment with holdout, signed one-click
// unsubscribe links) to STEPWISE_BENCH_N recipients: in test mode (render
// and count), live with a state store that remembers nothing (rendering +
// outbox), and live with the in-memory ledger and caps.
//
//	STEPWISE_BENCH_N=1000000 go test -run TestThroughput -v -timeout 30m ./shared/activity/channel
func TestThroughput(t *testing.T) {
	n := benchN(t, 1000000)
	for _, mode := range []string{"test", "live-nostate", "live"} {
		t.Run(mode, func(t *testing.T) {
			h := newHarness(t)
			h.opts.Workers = 2 * runtime.GOMAXPROCS(0)
			// The outbox on disk, as in a local home (the rest stays on tmpfs).
			h.outbox = outbox.New(filepath.Join(t.TempDir(), "outbox"))
			h.deps.Sender = h.outbox
			if mode == "live-nostate" {
				h.setState(nullState{})
			}
			start := time.Now()
			in := h.syntheticPopulation("bench", n)
			t.Logf("population of %d written in %v", n, time.Since(start).Round(time.Millisecond))
			test := mode == "test"
			runtime.GC()
			start = time.Now()
			res := h.plan("news", "bench", test, in)
			plan := time.Since(start)
			sendStart, cpuStart := time.Now(), cpuTime()
			for _, sl := range slices(res) {
				if _, err := h.send(context.Background(), "news", "bench", test, in, sl); err != nil {
					t.Fatal(err)
				}
			}
			send, sendCPU := time.Since(sendStart), cpuTime()-cpuStart
			finStart := time.Now()
			fin, err := h.finish("news", "bench", test, in)
			if err != nil {
				t.Fatal(err)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			out := fin.Counts["out"]
			t.Logf("%s: %d messages (%d skipped) in %v: plan %v, send %v (%.0f messages/s), finish %v; heap in use %d MiB",
				mode, out, fin.Counts["skipped"], time.Since(start).Round(time.Millisecond), plan.Round(time.Millisecond),
				send.Round(time.Millisecond), float64(out)/send.Seconds(), time.Since(finStart).Round(time.Millisecond), ms.HeapInuse>>20)
			t.Logf("%s: send phase CPU (user+sys) %v, %.2f µs per message", mode, sendCPU.Round(time.Millisecond),
				float64(sendCPU.Microseconds())/float64(out))
			if st, _ := os.Stat(outbox.Path(h.outbox.Dir(), "bench", "news")); st != nil {
				t.Logf("outbox: %d MiB", st.Size()>>20)
			}
		})
	}
}

// nullState is a ledger, cap log and suppression list that remember
// nothing: every claim and reservation is granted. It isolates rendering
// and the outbox in the benchmark.
type nullState struct{}

func (nullState) ClaimSend(_ context.Context, k state.SendKey, token string, at time.Time, lease time.Duration) (state.LedgerEntry, bool, error) {
	e, err := state.NewLedgerEntry(k, token, at, lease)
	return e, true, err
}
func (nullState) ReclaimSend(_ context.Context, held state.LedgerEntry, _ time.Time, _ time.Duration) (state.LedgerEntry, error) {
	return held, nil
}
func (nullState) CompleteSend(_ context.Context, held state.LedgerEntry, _, _ string, _ time.Time) (state.LedgerEntry, error) {
	return held, nil
}
func (nullState) FailSend(_ context.Context, held state.LedgerEntry, _ string, _ time.Time) (state.LedgerEntry, error) {
	return held, nil
}
func (nullState) GetSend(context.Context, state.SendKey) (state.LedgerEntry, error) {
	return state.LedgerEntry{}, state.ErrNotFound
}
func (nullState) ClaimSends(_ context.Context, cs []state.SendClaim, at time.Time, lease time.Duration) ([]state.SendResult, error) {
	out := make([]state.SendResult, len(cs))
	for i, c := range cs {
		e, err := state.NewLedgerEntry(c.Key, c.Token, at, lease)
		if err != nil {
			return nil, err
		}
		out[i] = state.SendResult{Entry: e, Claimed: true}
	}
	return out, nil
}
func (nullState) CompleteSends(_ context.Context, cs []state.SendCompletion, _ time.Time) ([]state.SendResult, error) {
	out := make([]state.SendResult, len(cs))
	for i, c := range cs {
		out[i].Entry = c.Held
	}
	return out, nil
}
func (nullState) ReserveCaps(_ context.Context, rs []state.CapRequest) ([]bool, error) {
	out := make([]bool, len(rs))
	for i := range out {
		out[i] = true
	}
	return out, nil
}
func (nullState) CountSends(context.Context, string, string, time.Time) (int, error) { return 0, nil }
func (nullState) ReserveCap(context.Context, state.CapRequest) (bool, error)         { return true, nil }
func (nullState) ReleaseCap(context.Context, string, string, string) error           { return nil }
func (nullState) CheckSuppressed(context.Context, string, ...string) (map[string]state.Suppression, error) {
	return nil, nil
}

// Live local sends against the embedded bbolt state store and the outbox,
// both on disk as in a local home, with the local executor's workers and
// groups (32 × 256; STEPWISE_BENCH_WORKERS and STEPWISE_BENCH_GROUP change
// them): a group's cap reservations and claims are one durable bbolt commit,
// its completions another. It prints the send phase's messages per second
// and its CPU time per message.
//
//	STEPWISE_BENCH_N=1000000 go test -run 'TestThroughputBolt$' -v -timeout 30m ./shared/activity/channel
func TestThroughputBolt(t *testing.T) {
	n := benchN(t, 100000)
	h := newHarness(t)
	st, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h.setState(st)
	h.opts.Workers, h.opts.Group = envInt("STEPWISE_BENCH_WORKERS", 32), envInt("STEPWISE_BENCH_GROUP", 256)
	h.outbox = outbox.New(filepath.Join(t.TempDir(), "outbox"))
	h.deps.Sender = h.outbox
	in := h.syntheticPopulation("bolt", n)
	runtime.GC()
	start := time.Now()
	res := h.plan("news", "bolt", false, in)
	plan := time.Since(start)
	sendStart, cpuStart := time.Now(), cpuTime()
	for _, sl := range slices(res) {
		if _, err := h.send(context.Background(), "news", "bolt", false, in, sl); err != nil {
			t.Fatal(err)
		}
	}
	send, sendCPU := time.Since(sendStart), cpuTime()-cpuStart
	fin, err := h.finish("news", "bolt", false, in)
	if err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	out := fin.Counts["out"]
	t.Logf("workers %d, group %d", h.opts.Workers, h.opts.Group)
	t.Logf("bbolt ledger + outbox: %d messages in %v (plan %v, send %v): %.0f messages/s sending, %.0f overall",
		out, d.Round(time.Millisecond), plan.Round(time.Millisecond), send.Round(time.Millisecond), float64(out)/send.Seconds(), float64(out)/d.Seconds())
	// On a shared machine the wall time measures the neighbours too; the CPU
	// time per message is this process's own.
	t.Logf("send phase CPU (user+sys): %v, %.1f µs per message, %.0f messages per CPU-second",
		sendCPU.Round(time.Millisecond), float64(sendCPU.Microseconds())/float64(out), float64(out)/sendCPU.Seconds())
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}
