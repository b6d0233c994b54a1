package lambdafn_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

type sweeps struct {
	runs []string
	err  error
}

func (s *sweeps) SweepRun(_ context.Context, run string) (int, error) {
	s.runs = append(s.runs, run)
	return 1, s.err
}

// The run a request names is swept after its handler; an ended
// execution's run (named by the result) too; a failed handler sweeps
// nothing; a failed sweep does not fail the run's end.
func TestSweepAfter(t *testing.T) {
	s := &sweeps{}
	ok := func(out string) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(out), nil }
	}
	ctx := context.Background()
	lambdafn.SweepAfter(ok(`{"status":"succeeded"}`), s)(ctx, json.RawMessage(`{"campaign":"c","run":{"id":"r1"}}`))
	lambdafn.SweepAfter(ok(`{"runId":"r2","status":"failed"}`), s)(ctx, json.RawMessage(`{"source":"aws.states"}`))
	lambdafn.SweepAfter(ok(`{"status":"unknown"}`), s)(ctx, json.RawMessage(`{"source":"aws.states"}`))
	failed := func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, errors.New("retry me") }
	if _, err := lambdafn.SweepAfter(failed, s)(ctx, json.RawMessage(`{"run":{"id":"r3"}}`)); err == nil {
		t.Error("the handler's error was lost")
	}
	if !slices.Equal(s.runs, []string{"r1", "r2"}) {
		t.Errorf("swept %v, want r1 r2", s.runs)
	}
	s.err = errors.New("glue down")
	if out, err := lambdafn.SweepAfter(ok(`{"status":"succeeded"}`), s)(ctx, json.RawMessage(`{"run":{"id":"r4"}}`)); err != nil || string(out) != `{"status":"succeeded"}` {
		t.Errorf("a failed sweep changed the result: %s, %v", out, err)
	}
}
