package api_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Many clients retrying one new Idempotency-Key at once all get the one run: never a
// 404 (a key seen before its run), never two runs; with and without the trigger interval.
func TestConcurrentSameKeyTriggers(t *testing.T) {
	for _, interval := range []time.Duration{-1, time.Hour} {
		t.Run(interval.String(), func(t *testing.T) {
			e := published(t, interval)
			const n = 16
			var wg sync.WaitGroup
			res := make([]resp, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					res[i] = e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"region": "FR"}}, "Idempotency-Key", "same-key")
				}()
			}
			wg.Wait()
			created := 0
			for i, r := range res {
				if r.status != http.StatusAccepted && r.status != http.StatusOK {
					t.Fatalf("request %d: %d %s", i, r.status, r.raw)
				}
				if r.str("id") != res[0].str("id") {
					t.Fatalf("request %d answered run %s, request 0 run %s", i, r.str("id"), res[0].str("id"))
				}
				if r.status == http.StatusAccepted {
					created++
				}
			}
			if created != 1 {
				t.Fatalf("%d requests answered 202 (a new run), want 1", created)
			}
			runs := e.expect(e.do("GET", "/v1/campaigns/flow-only/runs", nil), 200, "runs")
			if n := len(runs.body["runs"].([]any)); n != 1 {
				t.Fatalf("%d runs, want 1", n)
			}
		})
	}
}

// failFirstStart is a store whose first StartRun fails, as a crash or a lost database
// would between the checks of a trigger and the recording of its run.
type failFirstStart struct {
	api.Store
	failed atomic.Bool
}

func (s *failFirstStart) StartRun(ctx context.Context, r state.Run) (state.Run, bool, error) {
	if s.failed.CompareAndSwap(false, true) {
		return state.Run{}, false, errors.New("the state store is gone")
	}
	return s.Store.StartRun(ctx, r)
}

// A trigger that failed to record its run leaves nothing behind: its retry with the
// same key starts the run (it is not answered with a run that never existed, nor
// refused by the interval the failed attempt claimed).
func TestTriggerFailedWriteStrandsNoKey(t *testing.T) {
	e := newEnvWith(t, time.Hour, func(o *api.Options) { o.Store = &failFirstStart{Store: o.Store} })
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), 201, "create")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 200, "publish")
	body := map[string]any{"params": map[string]any{"region": "FR"}}
	e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", body, "Idempotency-Key", "k-crash"), 500, "trigger while the store fails")
	r := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", body, "Idempotency-Key", "k-crash"), 202, "retry")
	e.expect(e.do("GET", "/v1/runs/"+r.str("id"), nil), 200, "the retried run exists")
	again := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", body, "Idempotency-Key", "k-crash"), 200, "replay")
	if again.str("id") != r.str("id") || again.body["replayed"] != true {
		t.Fatalf("replay: %s", again.raw)
	}
}

// A key reused with another request is refused, not answered with the first run.
func TestIdempotencyKeyReusedWithAnotherBody(t *testing.T) {
	e := published(t, -1)
	first := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", map[string]any{"params": map[string]any{"region": "FR"}}, "Idempotency-Key", "k1"), 202, "trigger")
	// The same request written differently (key order, spacing) is the same request.
	e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", `{ "params" : {"region":"FR"} }`, "Idempotency-Key", "k1"), 200, "replay")
	for _, body := range []any{
		map[string]any{"params": map[string]any{"region": "DE"}},
		map[string]any{},
		map[string]any{"params": map[string]any{"region": "FR", "limit": 3}},
	} {
		r := e.expect(e.do("POST", "/v1/campaigns/flow-only/trigger", body, "Idempotency-Key", "k1"), 422, "same key, other body")
		if r.errCode() != "idempotency_key_reused" || !strings.Contains(r.raw2(), "Idempotency-Key") || strings.Contains(r.raw2(), "DE") {
			t.Fatalf("want idempotency_key_reused naming the header, without the values: %s", r.raw)
		}
	}
	runs := e.expect(e.do("GET", "/v1/campaigns/flow-only/runs", nil), 200, "runs")
	if n := len(runs.body["runs"].([]any)); n != 1 || first.str("id") == "" {
		t.Fatalf("%d runs, want 1", n)
	}
	// Test runs check their keys the same way.
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": strings.Replace(source(t), "id: flow-only", "id: flow-draft", 1)}), 201, "create draft")
	e.expect(e.do("POST", "/v1/campaigns/flow-draft/test-run", map[string]any{"params": map[string]any{"region": "FR"}}, "Idempotency-Key", "t1"), 202, "test-run")
	e.expect(e.do("POST", "/v1/campaigns/flow-draft/test-run", map[string]any{"params": map[string]any{"region": "FR"}}, "Idempotency-Key", "t1"), 200, "test-run replay")
	r := e.expect(e.do("POST", "/v1/campaigns/flow-draft/test-run", map[string]any{"params": map[string]any{"region": "DE"}}, "Idempotency-Key", "t1"), 422, "test-run, same key, other body")
	if r.errCode() != "idempotency_key_reused" {
		t.Fatalf("test-run: %s", r.raw)
	}
}
