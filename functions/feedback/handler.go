package main

import (
	"context"
	"log"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
)

// store is the part of the state store the handler uses.
type store interface {
	feedback.Suppressor
	tablelog.Legacy // table heads of older releases, migrated on first read
}

// handler records one batch of delivery events.
type handler struct {
	state   store
	store   blob.Store
	buckets func(string) (blob.Store, error)
	// scratch gives each batch a folder of the work dir, removed with the
	// batch's engine when the batch ends.
	scratch *lambdafn.Scratch
}

// result counts what a batch did.
type result struct {
	Events     int   `json:"events"`
	Suppressed int   `json:"suppressed"`
	Added      int64 `json:"added"`
	Ignored    int   `json:"ignored"`
}

// Handle records a batch. Appending is idempotent (records are keyed by
// event id), so a redelivered batch adds nothing twice; any failure fails
// the batch, which SQS redelivers (five times, then the dead-letter queue).
func (h *handler) Handle(ctx context.Context, b lambdafn.FeedbackBatch) (result, error) {
	var res result
	var recs []feedback.Record
	for _, body := range b.Bodies() {
		rs, err := feedback.ParseEvent([]byte(body))
		if err != nil {
			// Not an event we know: retrying would not help.
			log.Printf("feedback: ignored a message: %v", err)
			res.Ignored++
			continue
		}
		recs = append(recs, rs...)
	}
	res.Events = len(recs)
	if len(recs) == 0 {
		return res, nil
	}
	n, err := feedback.Apply(ctx, h.state, recs)
	res.Suppressed = n
	if err != nil {
		return res, &activity.Retryable{Msg: "feedback: " + err.Error()}
	}
	err = h.scratch.Do(func(dir string) error {
		eng, err := dataset.New(dataset.Options{Store: h.store, WorkDir: dir, Buckets: h.buckets})
		if err != nil {
			return err
		}
		defer eng.Close()
		res.Added, err = feedback.Append(ctx, eng, tablelog.New(eng.Store(), h.state), dir, recs, time.Now().UTC())
		return err
	})
	if err != nil {
		return res, &activity.Retryable{Msg: "feedback: " + err.Error()}
	}
	return res, nil
}
