package channel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// A slice that runs out of time stops at a message boundary and hands the
// rest on: it writes the outcomes of its settled leading rows as a piece,
// runs/<run>/<activity>/_pieces/<index>/<first row>, and returns
// extra.remainder = {offset, count}; the state machine invokes the slice
// again, which continues after its pieces and, once every row is settled,
// writes the slice's part from the pieces and its own outcomes.

// errOutOfTime stops a slice whose invocation is about to end.
var errOutOfTime = errors.New("the invocation's time is up")

// Remainder is what a slice that ran out of time leaves for its next
// invocation: the plan rows from Offset, Count of them (extra.remainder).
type Remainder struct {
	Offset int64 `json:"offset"`
	Count  int64 `json:"count"`
}

// Stop margins before an invocation's deadline.
const (
	minStopMargin = 2 * time.Second
	maxStopMargin = time.Minute
)

// sliceStops returns, from the invocation's deadline, when a slice stops
// taking recipients and when provider calls must have ended: a margin of a
// quarter of the time left (2 s to 1 min) before the deadline, and half of
// it. Zero times without a deadline.
func sliceStops(ctx context.Context, env *activity.Env, opts Options) (stopAt, callsUntil time.Time) {
	dl, ok := opts.deadline(ctx, env)
	if !ok {
		return
	}
	margin := min(max(dl.Sub(env.Now())/4, minStopMargin), maxStopMargin)
	return dl.Add(-margin), dl.Add(-margin / 2)
}

// deadline is when the invocation must have returned, on the Env's clock:
// Options.Deadline, else the context's deadline (wall time) carried over to
// the Env's clock, which a host may have set elsewhere in time.
func (o Options) deadline(ctx context.Context, env *activity.Env) (time.Time, bool) {
	if o.Deadline != nil {
		return o.Deadline(ctx)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Time{}, false
	}
	return env.Now().Add(time.Until(dl)), true
}

// timeUp reports whether the slice must stop taking recipients, and stops
// it then.
func (d *deliverer) timeUp() bool {
	if d.stopAt.IsZero() || d.now().Before(d.stopAt) {
		return false
	}
	d.stop(errOutOfTime)
	return true
}

// callTimeout bounds a provider call by CallTimeout and by the time calls
// must have ended; bounded tells that the latter is the bound.
func (d *deliverer) callTimeout() (timeout time.Duration, bounded bool) {
	timeout = d.opts.CallTimeout
	if d.callsUntil.IsZero() {
		return timeout, false
	}
	if left := d.callsUntil.Sub(d.now()); left < timeout {
		return left, true
	}
	return timeout, false
}

func pieceRef(run, act string, index int, offset int64) string {
	return fmt.Sprintf("runs/%s/%s/_pieces/%06d/%d", run, act, index, offset)
}

// readPieces fills outs with the pieces earlier invocations of sl wrote,
// one after the other from the slice's first row, and returns the first row
// they leave unsettled.
func readPieces(t *datatask.Task, sl activity.Slice, outs []outcome) (int64, error) {
	end := sl.Offset + sl.Count
	off := sl.Offset
	for off < end {
		ref := dataset.Ref(pieceRef(t.Req.Run.ID, t.Req.Activity, sl.Index, off))
		m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), ref)
		if errors.Is(err, dataset.ErrNotFound) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("read the slice's pieces: %w", err)
		}
		if m.Rows <= 0 || off+m.Rows > end {
			return 0, &activity.InvalidInput{Msg: fmt.Sprintf("%s: %d rows do not fit slice %d (rows %d to %d)", ref, m.Rows, sl.Index, sl.Offset, end-1)}
		}
		next := off
		_, err = t.Engine.Stream(t.Ctx, ref, dataset.StreamOptions{}, func(b *dataset.Batch) error {
			col := map[string]int{}
			for i, c := range b.Columns {
				col[c.Name] = i
			}
			str := func(row []any, name string) string { s, _ := row[col[name]].(string); return s }
			for _, row := range b.Rows {
				o := outcome{Row: dataset.Int(row[col[colRow]]), Status: str(row, "status"), MessageID: str(row, "messageId"),
					Variant: str(row, "variant"), Reason: str(row, "reason"), Recipient: str(row, "recipient"),
					Address: str(row, "address"), Token: str(row, "token")}
				if at, ok := row[col["sentAt"]].(time.Time); ok {
					o.SentAt = &at
				}
				if o.Row != next || o.Status == "" {
					return &activity.Retryable{Msg: fmt.Sprintf("row %d where row %d was expected", o.Row, next)}
				}
				outs[o.Row-sl.Offset] = o
				next++
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", ref, err)
		}
		if next != off+m.Rows {
			return 0, &activity.Retryable{Msg: fmt.Sprintf("read %s: %d rows of %d", ref, next-off, m.Rows)}
		}
		off = next
	}
	return off, nil
}

// handOn ends an invocation that ran out of time: the settled rows from
// from on, up to the first unsettled one, become a piece and the rest is
// the remainder. Rows settled after that one (a later worker's) are settled
// again by the next invocation through the ledger, which reports them sent.
// An invocation that settled nothing, with no recipient held by another
// attempt, fails: looping would not end.
// A nil result and error: every row is settled, the slice is done.
func (d *deliverer) handOn(ctx context.Context, t *datatask.Task, pm *dataset.Manifest, sl activity.Slice, from int64) (*activity.Result, error) {
	first := int(from - sl.Offset)
	k := first
	for k < len(d.outcomes) && d.outcomes[k].Status != "" {
		k++
	}
	if k == len(d.outcomes) {
		return nil, nil
	}
	settled := 0
	for _, o := range d.outcomes[first:] {
		if o.Status != "" {
			settled++
		}
	}
	if settled == 0 && !d.held.Load() {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("slice %d: no recipient was settled before the invocation's deadline: "+
			"the function's timeout leaves no time to send; raise it", sl.Index)}
	}
	if k > first {
		if _, err := writePart(t, dataset.Ref(pieceRef(d.run, d.act, sl.Index, from)), pm.CreatedAt, d.outcomes[first:k]); err != nil {
			return nil, err
		}
	}
	rem := Remainder{Offset: sl.Offset + int64(k), Count: sl.Count - int64(k)}
	t.Logf("slice %d: time is up after %d of %d rows; the next invocation sends the %d from row %d",
		sl.Index, k, sl.Count, rem.Count, rem.Offset)
	res := activity.NewResult([]string{"out", "skipped"})
	res.Extra = map[string]any{"remainder": rem}
	return res, nil
}
