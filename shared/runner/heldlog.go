package runner

import (
	"context"
	"sync"
	"time"
)

// LogHold is how long a task's log lines may wait to be written with its
// next status update (one store write, one commit of the embedded store,
// instead of one per line); lines still held then are appended on their own.
const LogHold = time.Second

// heldLog is a task's log: it holds the lines for at most LogHold, for the
// task's final update to carry (take), else appends them.
type heldLog struct {
	store         Store
	ctx           context.Context
	now           func() time.Time
	run, activity string
	mu            sync.Mutex
	lines         []string
	timer         *time.Timer
	closed        bool
	flushing      sync.WaitGroup
}

func newHeldLog(ctx context.Context, store Store, now func() time.Time, run, activity string) *heldLog {
	return &heldLog{store: store, ctx: context.WithoutCancel(ctx), now: now, run: run, activity: activity}
}

// AppendTaskLog implements activity.TaskLogger for the task's own lines.
func (h *heldLog) AppendTaskLog(ctx context.Context, run, activity string, at time.Time, lines ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || run != h.run || activity != h.activity {
		return h.store.AppendTaskLog(ctx, run, activity, at, lines...)
	}
	h.lines = append(h.lines, lines...)
	if h.timer == nil {
		h.flushing.Add(1)
		h.timer = time.AfterFunc(LogHold, func() {
			defer h.flushing.Done()
			h.mu.Lock()
			lines := h.lines
			h.lines, h.timer = nil, nil
			h.mu.Unlock()
			if len(lines) > 0 {
				h.store.AppendTaskLog(h.ctx, h.run, h.activity, h.now(), lines...)
			}
		})
	}
	return nil
}

// take stops holding and returns the lines held, for the caller's update;
// a flush under way is waited for, so that lines keep their order.
func (h *heldLog) take() []string {
	h.mu.Lock()
	h.closed = true
	if h.timer != nil && h.timer.Stop() {
		h.flushing.Done()
		h.timer = nil
	}
	lines := h.lines
	h.lines = nil
	h.mu.Unlock()
	h.flushing.Wait()
	return lines
}

// flush appends the lines held on their own.
func (h *heldLog) flush() {
	if lines := h.take(); len(lines) > 0 {
		h.store.AppendTaskLog(h.ctx, h.run, h.activity, h.now(), lines...)
	}
}
