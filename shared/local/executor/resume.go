package executor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ErrHomeBusy: another stepwise process holds the home's state store.
var ErrHomeBusy = errors.New("another stepwise process is using this home")

// resumeRecord is what resuming a run needs that the run record lacks: the
// bundle it executes (runs of a file have no published version).
type resumeRecord struct {
	Campaign string `json:"campaign"`
	Bundle   string `json:"bundle"`
}

func resumeKey(runID string) string { return "runs/" + url.PathEscape(runID) + "/resume.json" }

// remember records the bundle a run executes, once it has an id.
func (l *Local) remember(ctx context.Context, runID string, p *compile.Program) error {
	b, _ := json.Marshal(resumeRecord{Campaign: p.Campaign.ID, Bundle: p.Bundle.Hash})
	return l.Blob.Put(context.WithoutCancel(ctx), resumeKey(runID), bytes.NewReader(b))
}

// Program returns the program a recorded run executes, to resume it.
func (l *Local) Program(ctx context.Context, run state.Run) (*compile.Program, error) {
	rc, err := l.Blob.Get(ctx, resumeKey(run.ID))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("run %s has no record of the campaign bundle it executes (started by an older stepwise)", run.ID)
	}
	if err != nil {
		return nil, err
	}
	var rec resumeRecord
	err = json.NewDecoder(rc).Decode(&rec)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", resumeKey(run.ID), err)
	}
	rc, err = l.Blob.Get(ctx, compile.BundleKey(rec.Campaign, rec.Bundle))
	if err != nil {
		return nil, fmt.Errorf("load the bundle of run %s: %w", run.ID, err)
	}
	defer rc.Close()
	var bundle compile.Bundle
	if err := json.NewDecoder(rc).Decode(&bundle); err != nil {
		return nil, fmt.Errorf("bundle %s of run %s: %w", rec.Bundle, run.ID, err)
	}
	p, err := bundle.Compile(ctx, l.Compiler.Registry, l.Compiler.Checkers, l.Compiler.Schemas)
	if err != nil {
		return nil, fmt.Errorf("bundle %s of run %s does not compile: %w", rec.Bundle, run.ID, err)
	}
	return p, nil
}

// Resumable returns a recorded run and its program if it can be resumed: a
// killed process left it running, it is suspended, or it failed for a
// transient reason (a full disk, an unreachable provider).
func (l *Local) Resumable(ctx context.Context, runID string) (state.Run, *compile.Program, error) {
	run, err := l.State.GetRun(ctx, runID)
	if err != nil {
		return run, nil, fmt.Errorf("run %s: %w", runID, err)
	}
	if err := runner.Resumable(run); err != nil {
		return run, nil, err
	}
	p, err := l.Program(ctx, run)
	return run, p, err
}

// Resume continues a resumable run (see Resumable) in this process.
// Activities re-execute; the send ledger keeps everyone reached already from
// being sent to again.
func (l *Local) Resume(ctx context.Context, run state.Run, p *compile.Program, o Options) (*runner.Summary, error) {
	o.RunID, o.IdempotencyKey, o.Params, o.Test, o.Version, o.Resume = run.ID, run.IdempotencyKey, run.Params, run.Test, run.Version, true
	return l.Run(ctx, p, o)
}

// Orphans lists the runs recorded running. A process that holds the store
// (the bbolt lock) and runs none of them yet knows they are orphans: the
// process that ran them died.
func (l *Local) Orphans(ctx context.Context) ([]state.Run, error) {
	cs, err := l.State.ListCampaigns(ctx)
	if err != nil {
		return nil, err
	}
	var out []state.Run
	for _, c := range cs {
		page := state.Page{Limit: 500}
		for {
			runs, next, err := l.State.ListRuns(ctx, c.ID, page)
			if err != nil {
				return nil, err
			}
			for _, r := range runs {
				if r.Status == state.RunRunning {
					out = append(out, r)
				}
			}
			if next == "" {
				break
			}
			page.After = next
		}
	}
	return out, nil
}

// Fail records a run failed with a reason (a run that cannot resume).
func (l *Local) Fail(ctx context.Context, runID, reason string) error {
	_, err := l.State.SetRunStatus(ctx, runID, state.RunRunning, state.RunFailed, reason, l.Env.Now())
	return err
}
