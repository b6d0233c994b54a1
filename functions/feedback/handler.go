package main

import (
	"context"
	"log"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
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
	workDir string

	once   sync.Once
	engine *dataset.Engine
	err    error
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
func (h *handler) Handle(ctx context.Context, b lambdarun.FeedbackBatch) (result, error) {
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
	h.once.Do(func() {
		h.engine, h.err = dataset.New(dataset.Options{Store: h.store, WorkDir: h.workDir, Buckets: h.buckets})
	})
	if h.err != nil {
		return res, h.err
	}
	added, err := feedback.Append(ctx, h.engine, tablelog.New(h.engine.Store(), h.state), h.workDir, recs, time.Now().UTC())
	res.Added = added
	if err != nil {
		return res, &activity.Retryable{Msg: "feedback: " + err.Error()}
	}
	return res, nil
}
