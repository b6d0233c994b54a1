package executor

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Progress statuses besides an activity's result statuses (succeeded,
// failed, skipped).
const (
	ProgressStarted   = "started"   // the run has its id (RunID); no activity
	ProgressRunning   = "running"   // the activity started
	ProgressHeld      = "held"      // a channel with confirm: true waits to be confirmed
	ProgressReleased  = "released"  // a held channel was confirmed
	ProgressSuspended = "suspended" // onError: suspend; Reason is the failure
	ProgressResumed   = "resumed"   // a suspended activity runs again
	ProgressWaiting   = "waiting"   // a Wait until Until; Reason says why
	ProgressSending   = "sending"   // Done of Total recipients settled, Rate per second
)

// sendState is a channel activity whose sends are under way.
type sendState struct {
	total    int64
	finished int64 // rows of slices that ended
	done     int64 // last reported
	since    time.Time
	lastAt   time.Time
	lastDone int64
}

// waitStates indexes the Wait states of a state machine by name, nested ones
// included (Map item processors, Parallel branches).
func waitStates(def []byte) map[string]*asl.State {
	var sm asl.StateMachine
	out := map[string]*asl.State{}
	if json.Unmarshal(def, &sm) != nil {
		return out
	}
	var walk func(states asl.States)
	walk = func(states asl.States) {
		for _, ns := range states {
			s := ns.State
			if s == nil {
				continue
			}
			if s.Type == "Wait" {
				out[ns.Name] = s
			}
			if s.ItemProcessor != nil {
				walk(s.ItemProcessor.States)
			}
			for _, b := range s.Branches {
				walk(b.States)
			}
		}
	}
	walk(sm.States)
	return out
}

// waitUntil is when a Wait state entered at `at` with input ends, the wait
// mode applied; false when it cannot tell.
func waitUntil(s *asl.State, at time.Time, input json.RawMessage, mode interp.WaitMode) (time.Time, bool) {
	var end time.Time
	switch {
	case s.Seconds != nil:
		end = at.Add(time.Duration(*s.Seconds) * time.Second)
	case s.Timestamp != "":
		t, err := time.Parse(time.RFC3339, s.Timestamp)
		if err != nil {
			return end, false
		}
		end = t
	case s.SecondsPath != "" || s.TimestampPath != "":
		p := s.SecondsPath + s.TimestampPath
		v, ok := lookup(input, p)
		if !ok {
			return end, false
		}
		if s.SecondsPath != "" {
			var n float64
			if json.Unmarshal(v, &n) != nil {
				return end, false
			}
			end = at.Add(time.Duration(n * float64(time.Second)))
		} else {
			var ts string
			if json.Unmarshal(v, &ts) != nil {
				return end, false
			}
			t, err := time.Parse(time.RFC3339, ts)
			if err != nil {
				return end, false
			}
			end = t
		}
	default:
		return end, false
	}
	if d := end.Sub(at); d > 0 {
		end = at.Add(mode.Apply(d))
	}
	return end, true
}

// lookup evaluates a plain reference path ($.a.b) against a JSON document.
func lookup(doc json.RawMessage, path string) (json.RawMessage, bool) {
	if !strings.HasPrefix(path, "$") {
		return nil, false
	}
	cur := doc
	for _, f := range strings.Split(strings.TrimPrefix(path, "$"), ".")[1:] {
		var m map[string]json.RawMessage
		if json.Unmarshal(cur, &m) != nil {
			return nil, false
		}
		v, ok := m[f]
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// planned sums the rows of a channel plan's slices (plain, in waves, or
// listed in the run store).
func planned(r activity.Result) (int64, bool) {
	var n int64
	found := r.Slices != nil
	for _, s := range r.Slices {
		n += s.Count
	}
	if l, ok := r.Extra[channel.ExtraSliceList].(map[string]any); ok {
		rows, _ := l["rows"].(float64)
		n, found = n+int64(rows), true
	}
	if ws, ok := r.Extra["waves"].([]any); ok {
		found = true
		for _, w := range ws {
			m, _ := w.(map[string]any)
			sl, _ := m["slices"].([]any)
			for _, s := range sl {
				if sm, ok := s.(map[string]any); ok {
					c, _ := sm["count"].(float64)
					n += int64(c)
				}
			}
		}
	}
	return n, found
}

// counter counts the settled sends (sent or failed) of a run's activity.
type counter interface {
	ListSends(ctx context.Context, runID, activity string, p state.Page) ([]state.LedgerEntry, string, error)
}

func countSettled(ctx context.Context, c counter, runID, act string) (int64, error) {
	var n int64
	page := state.Page{Limit: 1000}
	for {
		list, next, err := c.ListSends(ctx, runID, act, page)
		if err != nil {
			return n, err
		}
		for _, e := range list {
			if e.Status == state.SendSent || e.Status == state.SendFailed {
				n++
			}
		}
		if next == "" {
			return n, nil
		}
		page.After = next
	}
}

// sampler reports the sends under way: every tick it counts the settled
// ledger entries of each sending activity (a test run has none: its
// finished slices count) and emits their progress with a rate. A scan that
// takes long spaces the next ones (at most a tenth of the time scanning).
type sampler struct {
	mu       sync.Mutex
	t        *tracker
	ledger   counter
	nextScan time.Time
}

// sample is one tick at now.
func (s *sampler) sample(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.nextScan) {
		return
	}
	t := s.t
	t.mu.Lock()
	runID := t.runID
	acts := make([]string, 0, len(t.sending))
	for id := range t.sending {
		acts = append(acts, id)
	}
	t.mu.Unlock()
	if runID == "" || len(acts) == 0 {
		return
	}
	start := time.Now()
	counts := map[string]int64{}
	for _, id := range acts {
		if s.ledger != nil {
			n, err := countSettled(ctx, s.ledger, runID, id)
			if err != nil {
				return
			}
			counts[id] = n
		}
	}
	s.nextScan = now.Add(10 * time.Since(start))
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, id := range sortedKeys(t.sending) {
		st := t.sending[id]
		done := max(counts[id], st.finished)
		if done == st.done {
			continue
		}
		rate := 0.0
		if el := now.Sub(st.lastAt).Seconds(); !st.lastAt.IsZero() && el > 0 {
			rate = float64(done-st.lastDone) / el
		} else if el := now.Sub(st.since).Seconds(); el > 0 {
			rate = float64(done) / el
		}
		st.done, st.lastDone, st.lastAt = done, done, now
		t.emitLocked(Progress{Activity: id, Type: t.p.Specs[id].Type, Status: ProgressSending, Done: done, Total: st.total, Rate: rate, Time: now})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// activityPart splits a state name "<activity>:<part>".
func activityPart(name string) (string, string) {
	id, part, _ := strings.Cut(name, ":")
	return id, part
}

// inMap reports whether a path is inside a Map iteration.
func inMap(p interp.Path) bool {
	for _, pe := range p {
		if pe.Index >= 0 {
			return true
		}
	}
	return false
}

// special handles the events that tell a run is held, suspended, waiting or
// sending; it reports whether the event was consumed. Called with t.mu held.
func (t *tracker) special(ev interp.Event) bool {
	name, part := activityPart(ev.State)
	spec, ok := t.p.Specs[name]
	if !ok {
		return false
	}
	typ := spec.Type
	switch {
	case ev.Type == interp.StateEntered && part == "suspend" && !inMap(ev.Path):
		var in struct {
			Error struct{ Error, Cause string } `json:"error"`
		}
		json.Unmarshal(ev.Input, &in)
		reason := in.Error.Error
		if c := causeMessage(in.Error.Cause); c != "" {
			reason += ": " + c
		}
		t.suspended[name] = true
		t.emitLocked(Progress{Activity: name, Type: typ, Status: ProgressSuspended, Reason: reason, RunID: t.runID, Time: ev.Time})
		return true
	case ev.Type == interp.StateEntered && part == "" && t.suspended[name]:
		delete(t.suspended, name)
		t.emitLocked(Progress{Activity: name, Type: typ, Status: ProgressResumed, RunID: t.runID, Time: ev.Time})
		return true
	case ev.Type == interp.StateExited && !inMap(ev.Path) && (part == "" || part == "confirm"):
		res, ok := resultIn(ev.Output, name)
		if !ok {
			return false
		}
		held, has := res.Extra[activity.ExtraHeld].(bool)
		if has && held && !t.held[name] {
			t.held[name] = true
			t.emitLocked(Progress{Activity: name, Type: typ, Status: ProgressHeld, RunID: t.runID, Time: ev.Time})
		} else if has && !held && t.held[name] {
			delete(t.held, name)
			t.emitLocked(Progress{Activity: name, Type: typ, Status: ProgressReleased, RunID: t.runID, Time: ev.Time})
		}
		return part == "confirm"
	case ev.Type == interp.StateEntered && !inMap(ev.Path) && (part == "send" || part == "waves" || part == "fanout"):
		var in struct {
			R map[string]activity.Result `json:"r"`
		}
		if json.Unmarshal(ev.Input, &in) == nil {
			if total, ok := planned(in.R[name]); ok {
				t.sending[name] = &sendState{total: total, since: ev.Time}
			}
		}
		return true
	case ev.Type == interp.StateExited && inMap(ev.Path) && (part == "slice" || part == "listed slice"):
		var out struct {
			Sent activity.Result `json:"sent"`
		}
		if st := t.sending[name]; st != nil && json.Unmarshal(ev.Output, &out) == nil && out.Sent.Extra["remainder"] == nil {
			st.finished += out.Sent.Counts["out"] + out.Sent.Counts["skipped"]
		}
		return true
	}
	return false
}

// waiting reports a Wait state entered (not a poll loop's), once the
// activity is reported running. Called with t.mu held.
func (t *tracker) waiting(ev interp.Event) {
	name, part := activityPart(ev.State)
	spec, ok := t.p.Specs[name]
	if !ok || t.held[name] || t.suspended[name] {
		return
	}
	w := t.waits[ev.State]
	if w == nil {
		return
	}
	until, ok := waitUntil(w, ev.Time, ev.Input, t.wait)
	if !ok || !until.After(ev.Time) {
		return
	}
	reason := spec.Type
	if part == "until" {
		reason = state.WaitQuietHours
	}
	if t.note != nil && t.runID != "" {
		t.note(t.runID, name, &state.TaskWait{Reason: reason, Until: until, Zone: t.p.Campaign.Timezone})
	}
	t.emitLocked(Progress{Activity: name, Type: spec.Type, Status: ProgressWaiting, Until: until, Reason: reason, RunID: t.runID, Time: ev.Time})
}
