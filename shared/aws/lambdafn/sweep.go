package lambdafn

import (
	"context"
	"encoding/json"
	"log"
)

// RunSweeper removes what a run left outside the run store (gluesweep: the
// Glue tables of its datasets on the Athena engine).
type RunSweeper interface {
	SweepRun(ctx context.Context, run string) (int, error)
}

// SweepAfter is next, then the sweep of the run it ended: FinishRun's and
// FailRun's requests name it (run.id), an ended execution's result too
// (runId). Nothing is swept when next fails (its retry will), and a sweep
// that fails is logged, not returned: the run has ended either way, and its
// next end (after a resume) sweeps again.
func SweepAfter(next func(context.Context, json.RawMessage) (json.RawMessage, error), s RunSweeper) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		out, err := next(ctx, in)
		if err != nil {
			return out, err
		}
		var req struct {
			Run struct {
				ID string `json:"id"`
			} `json:"run"`
		}
		var res struct {
			RunID string `json:"runId"`
		}
		json.Unmarshal(in, &req)
		json.Unmarshal(out, &res)
		run := req.Run.ID
		if run == "" {
			run = res.RunID
		}
		if run == "" {
			return out, nil
		}
		if n, err := s.SweepRun(ctx, run); err != nil {
			log.Printf("run %s ended; its Glue tables stay: %v", run, err)
		} else if n > 0 {
			log.Printf("run %s ended: %d Glue tables removed", run, n)
		}
		return out, nil
	}
}
