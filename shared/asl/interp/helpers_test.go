package interp

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"
)

// fakeClock records sleeps and advances instantly.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// sameJSON compares two JSON texts semantically.
func sameJSON(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("got invalid JSON %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want invalid JSON %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

// echo returns its input.
var echo = InvokerFunc(func(_ context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
	return in, nil
})

// runDef runs a definition with the fake clock, echo invoker unless
// given, and returns output and error.
func runDef(t *testing.T, def, input string, opts Options) (string, error) {
	t.Helper()
	if opts.Invoker == nil {
		opts.Invoker = echo
	}
	if opts.Clock == nil {
		opts.Clock = newFakeClock()
	}
	if opts.Seed == 0 {
		opts.Seed = 7
	}
	out, err := Run(context.Background(), []byte(def), json.RawMessage(input), opts)
	return string(out), err
}

// failureName returns the ASL error name of err, or "".
func failureName(err error) string {
	if f, ok := err.(*Failure); ok {
		return f.Name
	}
	return ""
}

// passMachine wraps one Pass state's fields in a definition.
func passMachine(fields string) string {
	return `{"StartAt":"P","States":{"P":{"Type":"Pass",` + fields + `,"End":true}}}`
}
