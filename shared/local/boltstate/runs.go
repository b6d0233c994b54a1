package boltstate

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stepwise-run/stepwise/shared/state"
)

func getRun(tx *bolt.Tx, id string) (state.Run, error) {
	var r state.Run
	ok, err := get(tx.Bucket(bRuns), key(id), &r)
	if err == nil && !ok {
		err = notFound("run", id)
	}
	return r, err
}

// StartRun implements state.Runs.
func (s *Store) StartRun(ctx context.Context, r state.Run) (run state.Run, existed bool, err error) {
	if r, err = state.NewRun(r); err != nil {
		return r, false, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		keys := tx.Bucket(bRunKeys)
		if r.IdempotencyKey != "" {
			if id := keys.Get(key(r.CampaignID, r.IdempotencyKey)); id != nil {
				existed = true
				run, err = getRun(tx, string(id))
				return err
			}
		}
		runs := tx.Bucket(bRuns)
		if runs.Get(key(r.ID)) != nil {
			return fmt.Errorf("%w: run %s", state.ErrExists, r.ID)
		}
		if run, err = put(runs, key(r.ID), r); err != nil {
			return err
		}
		if r.IdempotencyKey != "" {
			if err := keys.Put(key(r.CampaignID, r.IdempotencyKey), []byte(r.ID)); err != nil {
				return err
			}
		}
		return tx.Bucket(bRunsByCampaign).Put(key(r.CampaignID, state.TimeKey(r.StartedAt)+"#"+r.ID), []byte(r.ID))
	})
	return run, existed, err
}

// GetRun implements state.Runs.
func (s *Store) GetRun(ctx context.Context, id string) (r state.Run, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		r, err = getRun(tx, id)
		return err
	})
	return r, err
}

// ListRuns implements state.Runs.
func (s *Store) ListRuns(ctx context.Context, campaignID string, p state.Page) (runs []state.Run, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ids, n, err := scanRaw(tx.Bucket(bRunsByCampaign), prefix(campaignID), p, true)
		if err != nil {
			return err
		}
		next = n
		for _, id := range ids {
			r, err := getRun(tx, id)
			if err != nil {
				return err
			}
			runs = append(runs, r)
		}
		return nil
	})
	return runs, next, err
}

// SetRunStatus implements state.Runs.
func (s *Store) SetRunStatus(ctx context.Context, id string, from, to state.RunStatus, reason string, at time.Time) (r state.Run, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if r, err = getRun(tx, id); err != nil {
			return err
		}
		if r, err = state.MoveRun(r, from, to, reason, at); err != nil {
			return err
		}
		r, err = put(tx.Bucket(bRuns), key(id), r)
		return err
	})
	return r, err
}

// modifyTask stores fn's change of a task, which starts as a zero task when absent.
func (s *Store) modifyTask(ctx context.Context, runID, activity string, fn func(state.Task) (state.Task, error)) (t state.Task, err error) {
	if runID == "" || activity == "" {
		return t, fmt.Errorf("%w: task run id and activity are required", state.ErrInvalid)
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bTasks)
		k := key(runID, activity)
		t = state.Task{RunID: runID, Activity: activity}
		if _, err := get(b, k, &t); err != nil {
			return err
		}
		if t, err = fn(t); err != nil {
			return err
		}
		t, err = put(b, k, t)
		return err
	})
	return t, err
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
func (s *Store) GetTask(ctx context.Context, runID, activity string) (t state.Task, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bTasks), key(runID, activity), &t)
		if err == nil && !ok {
			err = notFound("task", runID, activity)
		}
		return err
	})
	return t, err
}

// ListTasks implements state.Runs.
func (s *Store) ListTasks(ctx context.Context, runID string) (list []state.Task, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.Task](tx.Bucket(bTasks), prefix(runID), state.Page{}, false)
		return err
	})
	return list, err
}
