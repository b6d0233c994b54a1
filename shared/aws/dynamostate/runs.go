package dynamostate

import (
	"context"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

const runSK = "RUN"

func runPK(id string) string { return "RUN#" + id }

func runRec(r state.Run) rec {
	return rec{pk: runPK(r.ID), sk: runSK, gsi1pk: "RUNS#" + r.CampaignID, gsi1sk: state.TimeKey(r.StartedAt) + "#" + r.ID, data: r}
}

// runKey is the item that maps an idempotency key to its run.
type runKey struct {
	RunID string `json:"runId"`
}

// stored returns v as a read would return it after a write.
func stored[T any](v T) (T, error) {
	it, err := rec{data: v}.item(1)
	if err != nil {
		return v, err
	}
	return decode[T](it)
}

// StartRun implements state.Runs.
func (s *Store) StartRun(ctx context.Context, r state.Run) (state.Run, bool, error) {
	r, err := state.NewRun(r)
	if err != nil {
		return r, false, err
	}
	if r.IdempotencyKey == "" {
		if _, err := s.create(ctx, runRec(r)); err != nil {
			return r, false, err
		}
		r, err = stored(r)
		return r, false, err
	}
	existed := false
	it, err := s.modify(ctx, "RUNKEY#"+r.CampaignID+"#"+r.IdempotencyKey, "RUNKEY", func(cur item) (change, error) {
		if existed = cur != nil; existed {
			return change{}, nil
		}
		head := rec{pk: "RUNKEY#" + r.CampaignID + "#" + r.IdempotencyKey, sk: "RUNKEY", data: runKey{r.ID}}
		return change{head: &head, creates: []rec{runRec(r)}}, nil
	})
	if err != nil {
		return r, false, err
	}
	if !existed {
		r, err = stored(r)
		return r, false, err
	}
	k, err := decode[runKey](it)
	if err != nil {
		return r, true, err
	}
	run, err := s.GetRun(ctx, k.RunID)
	return run, true, err
}

// GetRun implements state.Runs.
func (s *Store) GetRun(ctx context.Context, id string) (state.Run, error) {
	return getRec[state.Run](ctx, s, runPK(id), runSK)
}

// ListRuns implements state.Runs.
func (s *Store) ListRuns(ctx context.Context, campaignID string, p state.Page) ([]state.Run, string, error) {
	items, next, err := s.list(ctx, GSI1, "gsi1pk", "RUNS#"+campaignID, "gsi1sk", "", p, true)
	if err != nil {
		return nil, "", err
	}
	runs, err := decodeAll[state.Run](items)
	return runs, next, err
}

// SetRunStatus implements state.Runs.
func (s *Store) SetRunStatus(ctx context.Context, id string, from, to state.RunStatus, reason string, at time.Time) (state.Run, error) {
	it, err := s.modify(ctx, runPK(id), runSK, func(cur item) (change, error) {
		if cur == nil {
			return change{}, fmt.Errorf("%w: run %s", state.ErrNotFound, id)
		}
		r, err := decode[state.Run](cur)
		if err != nil {
			return change{}, err
		}
		r, err = state.MoveRun(r, from, to, reason, at)
		head := runRec(r)
		return change{head: &head}, err
	})
	if err != nil {
		return state.Run{}, err
	}
	return decode[state.Run](it)
}

func taskSK(activity string) string { return "TASK#" + activity }

// modifyTask stores fn's change of a task, which starts as a zero task when absent.
func (s *Store) modifyTask(ctx context.Context, runID, activity string, fn func(state.Task) (state.Task, error)) (state.Task, error) {
	if runID == "" || activity == "" {
		return state.Task{}, fmt.Errorf("%w: task run id and activity are required", state.ErrInvalid)
	}
	it, err := s.modify(ctx, runPK(runID), taskSK(activity), func(cur item) (change, error) {
		t := state.Task{RunID: runID, Activity: activity}
		if cur != nil {
			var err error
			if t, err = decode[state.Task](cur); err != nil {
				return change{}, err
			}
		}
		t, err := fn(t)
		return change{head: &rec{pk: runPK(runID), sk: taskSK(activity), data: t}}, err
	})
	if err != nil {
		return state.Task{}, err
	}
	return decode[state.Task](it)
}

// UpdateTask implements state.Runs.
func (s *Store) UpdateTask(ctx context.Context, runID, activity string, u state.TaskUpdate) (state.Task, error) {
	return s.modifyTask(ctx, runID, activity, func(t state.Task) (state.Task, error) {
		return state.ApplyTaskUpdate(t, u)
	})
}

// AppendTaskLog implements state.Runs.
func (s *Store) AppendTaskLog(ctx context.Context, runID, activity string, at time.Time, lines ...string) error {
	_, err := s.modifyTask(ctx, runID, activity, func(t state.Task) (state.Task, error) {
		return state.AppendTaskLog(t, at, lines...), nil
	})
	return err
}

// GetTask implements state.Runs.
func (s *Store) GetTask(ctx context.Context, runID, activity string) (state.Task, error) {
	return getRec[state.Task](ctx, s, runPK(runID), taskSK(activity))
}

// ListTasks implements state.Runs.
func (s *Store) ListTasks(ctx context.Context, runID string) ([]state.Task, error) {
	items, _, err := s.list(ctx, "", "pk", runPK(runID), "sk", "TASK#", state.Page{}, false)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.Task](items)
}
