package executor

import (
	"context"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/datakit"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
)

// AppendFeedback adds records to the home's message_feedback table (in the catalog's
// warehouse when a run has set one up) and returns how many were new.
func (l *Local) AppendFeedback(ctx context.Context, recs []feedback.Record) (int64, error) {
	eng, err := datakit.Engine(l.Env)
	if err != nil {
		return 0, err
	}
	if w, ok := l.Env.Services["warehouse"].(blob.Store); ok {
		eng = eng.On(w)
	}
	// The table's versions are committed in the warehouse, with its data.
	return feedback.Append(ctx, eng, tablelog.New(eng.Store(), l.State), l.Env.WorkDir, recs, time.Now())
}
