// Package statetest is the contract test suite of state.Store. Every adapter runs it:
//
//	func TestContract(t *testing.T) {
//		statetest.Run(t, func(t *testing.T) state.Store { return newEmptyStore(t) })
//	}
//
// newStore must return an empty store, cleaned up with t.Cleanup; it is called from
// parallel subtests.
package statetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// Run runs the whole contract against stores made by newStore, one per subtest.
func Run(t *testing.T, newStore func(t *testing.T) state.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, state.Store)
	}{
		{"Campaigns/CreateGetList", testCampaignCreate},
		{"Campaigns/Update", testCampaignUpdate},
		{"Campaigns/Lifecycle", testCampaignLifecycle},
		{"Campaigns/Race", testCampaignRace},
		{"Runs/StartGetStatus", testRuns},
		{"Runs/Idempotency", testRunIdempotency},
		{"Runs/IdempotencyRace", testRunIdempotencyRace},
		{"Runs/List", testListRuns},
		{"Tasks/Update", testTasks},
		{"Tasks/Log", testTaskLog},
		{"Tasks/Waiting", testTaskWaiting},
		{"Tables/Commit", testTables},
		{"Tables/Race", testTableRace},
		{"Audiences", testAudiences},
		{"Incrementals", testIncrementals},
		{"Keys", testKeys},
		{"Ledger/ClaimComplete", testLedger},
		{"Ledger/Lease", testLedgerLease},
		{"Ledger/Race", testLedgerRace},
		{"Ledger/List", testLedgerList},
		{"Ledger/Batch", testLedgerBatch},
		{"Ledger/BatchRace", testLedgerBatchRace},
		{"Suppressions", testSuppressions},
		{"Suppressions/Bulk", testSuppressionsBulk},
		{"Caps", testCaps},
		{"Caps/Race", testCapRace},
		{"Caps/Batch", testCapsBatch},
		{"Schedules", testSchedules},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			defer func() {
				if r := recover(); r != nil {
					f, ok := r.(failure)
					if !ok {
						panic(r)
					}
					t.Fatal(string(f))
				}
			}()
			tc.fn(t, newStore(t))
		})
	}
}

// t0 is the base time of every test.
var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// failure is what must panics with; Run turns it into a test failure.
type failure string

// must returns v when err is nil and fails the test otherwise. Call it only from the
// test's goroutine.
func must[T any](v T, err error) T {
	if err != nil {
		_, file, line, _ := runtime.Caller(1)
		panic(failure(fmt.Sprintf("%s:%d: unexpected error: %v", filepath.Base(file), line, err)))
	}
	return v
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

// same compares through JSON, the form the records are defined by.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("%s:\n got  %s\n want %s", what, g, w)
	}
}

func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Fatalf("%s = %v, want %v in UTC", what, got, want)
	}
}

// racers is how many goroutines the race tests start.
const racers = 8

// race runs fn(i) for i in [0, racers) at once and returns the errors.
func race(fn func(i int) error) []error {
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWins checks that exactly one error is nil and the others are want.
func oneWins(t *testing.T, errs []error, want error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, want):
			t.Fatalf("racer %d: error = %v, want %v", i, err, want)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer won: %v", errs)
	}
	return winner
}

func name(prefix string, i int) string { return fmt.Sprintf("%s-%d", prefix, i) }
