package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
)

// runChange is a "change" event: the run's status and only the activities
// and transitions that differ from the previous event.
type runChange struct {
	Status      string             `json:"status"`
	Reason      string             `json:"reason,omitempty"`
	EndedAt     *time.Time         `json:"endedAt,omitempty"`
	Activities  []api.ActivityView `json:"activities,omitempty"`
	Transitions []api.Transition   `json:"transitions,omitempty"`
}

// maxStream is the longest a stream lasts; the browser's EventSource then
// opens another (after the retry the stream announces).
const maxStream = 10 * time.Minute

// runEvents streams a run as server-sent events while it goes on: "run" with
// the whole view (the API's), then "change" with what changed, read from the
// API every LiveEvery; a comment line as a heartbeat when nothing changed for
// Heartbeat; "end" once the run has ended, and the stream closes. It also
// closes when the client goes, and when the session ends (logout, expiry).
func (c *Console) runEvents(w http.ResponseWriter, r *http.Request, _ session) {
	ctx, run := r.Context(), r.PathValue("run")
	read := func() (*api.RunView, apiAnswer) {
		a := c.call(ctx, http.MethodGet, "/v1/runs/"+url.PathEscape(run), nil, nil)
		if a.status != http.StatusOK {
			return nil, a
		}
		var rv api.RunView
		if err := json.Unmarshal(a.body, &rv); err != nil {
			return nil, apiAnswer{status: http.StatusBadGateway, body: []byte(`{}`)}
		}
		return &rv, a
	}
	prev, a := read()
	if prev == nil {
		passJSON(w, a)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": apiErr{Code: "internal", Message: "the server cannot stream"}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event string, v any) bool {
		data, _ := json.Marshal(v)
		_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, data)
		fl.Flush()
		return err == nil
	}
	fmt.Fprintf(w, "retry: %d\n\n", 2*c.o.LiveEvery.Milliseconds()+1000)
	if !send("run", prev) {
		return
	}
	tick := time.NewTicker(c.o.LiveEvery)
	defer tick.Stop()
	idle := time.Duration(0)
	for life := time.Duration(0); life < maxStream; life += c.o.LiveEvery {
		if prev.EndedAt != nil {
			send("end", runChange{Status: prev.Status, Reason: prev.Reason, EndedAt: prev.EndedAt})
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.closing:
			return // the server shuts down; the browser reconnects to the next one
		case <-tick.C:
		}
		if _, _, ok := c.session(r); !ok {
			send("logout", map[string]string{"message": "log in again"})
			return
		}
		rv, _ := read()
		if rv == nil {
			continue // a failed read: try again at the next tick
		}
		if ch := changes(prev, rv); ch != nil {
			if !send("change", ch) {
				return
			}
			idle = 0
		} else if idle += c.o.LiveEvery; idle >= c.o.Heartbeat {
			if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
				return
			}
			fl.Flush()
			idle = 0
		}
		prev = rv
	}
}

// changes is what differs from a to b, or nil when nothing does.
func changes(a, b *api.RunView) *runChange {
	ch := &runChange{Status: b.Status, Reason: b.Reason, EndedAt: b.EndedAt}
	same := func(x, y any) bool {
		dx, _ := json.Marshal(x)
		dy, _ := json.Marshal(y)
		return string(dx) == string(dy)
	}
	was := map[string]api.ActivityView{}
	for _, x := range a.Activities {
		was[x.ID] = x
	}
	for _, x := range b.Activities {
		if old, ok := was[x.ID]; !ok || !same(old, x) {
			ch.Activities = append(ch.Activities, x)
		}
	}
	wasT := map[string]api.Transition{}
	for _, t := range a.Transitions {
		wasT[t.From+"."+t.Port] = t
	}
	for _, t := range b.Transitions {
		if old, ok := wasT[t.From+"."+t.Port]; !ok || !same(old, t) {
			ch.Transitions = append(ch.Transitions, t)
		}
	}
	if len(ch.Activities) == 0 && len(ch.Transitions) == 0 && a.Status == b.Status && a.Reason == b.Reason && same(a.EndedAt, b.EndedAt) {
		return nil
	}
	return ch
}
