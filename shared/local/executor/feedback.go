package executor

import (
	"context"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
)

// Engine returns the home's DuckDB engine over its run store.
func (l *Local) Engine() (*dataset.Engine, error) { return l.Families.Data.Data.EngineOf(l.Env) }

// AppendFeedback adds records to the home's message_feedback table (in the catalog's
// warehouse when a run has set one up) and returns how many were new.
func (l *Local) AppendFeedback(ctx context.Context, recs []feedback.Record) (int64, error) {
	eng, err := l.Engine()
	if err != nil {
		return 0, err
	}
	// The table's versions are committed in the warehouse, with its data.
	return feedback.Append(ctx, eng, tablelog.New(eng.Store(), l.State), l.Env.WorkDir, recs, time.Now())
}
