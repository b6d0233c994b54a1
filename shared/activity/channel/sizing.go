package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/send"
)

// Sizing is how a plan cuts its rows into slices. The plan stores it beside
// itself once: retried and resumed plans, the confirm poll, the slices'
// limiter and the finish then see the same slices, even after SEND_RATE or
// the function's timeout changed.
type Sizing struct {
	// SliceSize is the rows of one slice.
	SliceSize int `json:"sliceSize"`
	// Rate is the messages per second one slice is expected to send (0: no
	// limit was known).
	Rate float64 `json:"rate,omitempty"`
	// Timeout is the function's timeout the slices were sized for.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// Sizing inputs.
const (
	// MaxFunctionTimeout is the Lambda maximum: the timeout assumed when the
	// plan runs without a deadline.
	MaxFunctionTimeout = 15 * time.Minute
	// minSliceSize keeps slices from becoming absurdly small; a slice that
	// then cannot finish in time hands its remainder on (see runSend).
	minSliceSize = 100
)

// SliceBudget is the time one slice is planned to send within a function
// timeout: two thirds of it (10 minutes of Lambda's 15), the rest covering
// the start, the writing of the part and a provider slower than its limit.
func SliceBudget(timeout time.Duration) time.Duration { return timeout * 2 / 3 }

// NewSizing sizes the slices of x for a function with the given timeout
// (<= 0: MaxFunctionTimeout) whose provider ceiling is providerRate messages
// per second (0: none). Up to concurrency slices send at once, and share
// both the activity's rate and the function's ceiling, so each sends at
//
//	rate' = min(rate / concurrency, providerRate / concurrency)
//
// and a slice holds at most rate' × SliceBudget(timeout) rows (at least
// minSliceSize, at most sliceSize).
func NewSizing(x *Config, providerRate float64, timeout time.Duration) Sizing {
	if timeout <= 0 {
		timeout = MaxFunctionTimeout
	}
	size := x.SliceSize
	if size <= 0 {
		size = DefaultSliceSize
	}
	conc := float64(concurrency(x))
	r := math.Inf(1)
	if x.Rate > 0 {
		r = x.Rate / conc
	}
	if providerRate > 0 {
		r = min(r, providerRate/conc)
	}
	s := Sizing{SliceSize: size, Timeout: timeout}
	if !math.IsInf(r, 1) {
		s.Rate = r
		s.SliceSize = min(size, max(minSliceSize, int(r*SliceBudget(timeout).Seconds())))
	}
	return s
}

// legacySizing is the sizing of a plan written before sizings were stored:
// the activity's rate share over ten minutes.
func legacySizing(x *Config) Sizing {
	s := NewSizing(x, 0, MaxFunctionTimeout)
	s.Timeout = 0
	return s
}

func concurrency(x *Config) int {
	if x.Concurrency > 0 {
		return x.Concurrency
	}
	return DefaultConcurrency
}

func sizingKey(run, act string) string { return "runs/" + run + "/" + act + "/_sizing.json" }

// functionTimeout is the time left at the start of an invocation: the
// function's timeout (0 without a deadline).
func functionTimeout(ctx context.Context, env *activity.Env, opts Options) time.Duration {
	if dl, ok := opts.deadline(ctx, env); ok {
		return max(0, dl.Sub(env.Now()).Round(time.Second))
	}
	return 0
}

// planSizing sizes a new plan in this function: its provider ceiling for
// the channel and its timeout (the slices run in the same function). A test
// run renders without pacing (nothing is sent), so no rate sizes its slices.
func planSizing(s send.Sender, x *Config, kind *Kind, timeout time.Duration, test bool) Sizing {
	if test {
		unpaced := *x
		unpaced.Rate = 0
		return NewSizing(&unpaced, 0, timeout)
	}
	return NewSizing(x, send.CeilingOf(s, kind.Type), timeout)
}

func putSizing(ctx context.Context, store blob.Store, run, act string, s Sizing) error {
	b, _ := json.Marshal(s)
	if err := store.Put(ctx, sizingKey(run, act), bytes.NewReader(b)); err != nil {
		return fmt.Errorf("plan: write the sizing: %w", err)
	}
	return nil
}

// readSizing returns the stored sizing of a written plan.
func readSizing(ctx context.Context, store blob.Store, run, act string, x *Config) (Sizing, error) {
	b, err := blob.ReadAll(ctx, store, sizingKey(run, act))
	if errors.Is(err, blob.ErrNotFound) {
		return legacySizing(x), nil
	}
	if err != nil {
		return Sizing{}, fmt.Errorf("read the plan's sizing: %w", err)
	}
	var s Sizing
	if err := json.Unmarshal(b, &s); err != nil || s.SliceSize <= 0 {
		return Sizing{}, &activity.InvalidInput{Msg: fmt.Sprintf("%s: not a slice sizing (want {\"sliceSize\": N > 0, …})", sizingKey(run, act))}
	}
	return s, nil
}
