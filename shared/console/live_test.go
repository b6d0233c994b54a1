package console_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/state"
)

// event is one server-sent event, or a comment (a heartbeat).
type event struct {
	name, data, comment string
}

// stream opens a run's events with the client's session and sends what
// arrives on a channel, closed at the end of the stream.
func stream(t *testing.T, ctx context.Context, c *http.Client, u string) (*http.Response, <-chan event) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan event, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var e event
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e != (event{}) {
					ch <- e
				}
				e = event{}
			case strings.HasPrefix(line, ":"):
				e.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "event: "):
				e.name = line[7:]
			case strings.HasPrefix(line, "data: "):
				e.data = line[6:]
			}
		}
	}()
	return resp, ch
}

func next(t *testing.T, ch <-chan event, name string) event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if e.name == name || (name == "heartbeat" && e.comment == "heartbeat") {
				return e
			}
		case <-timeout:
			t.Fatalf("no %q event within 10 s", name)
		}
	}
}

// A run's events: the whole view first, then only what changed, heartbeats
// while nothing does, and an end event when the run ends, which closes the
// stream. Without a session, 401; a logout closes an open stream.
func TestRunEvents(t *testing.T) {
	hs, l := serverHome(t)
	st, bg := l.State, context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	run, _, err := st.StartRun(bg, state.Run{CampaignID: "winback-q4", StartedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	u := hs.URL + "/ui/runs/" + run.ID + "/events"
	if resp, _ := do(t, client(), "GET", u, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("events without a session: %d", resp.StatusCode)
	}
	c := client()
	csrf := login(t, c, hs.URL)
	ctx, cancel := context.WithTimeout(bg, 30*time.Second)
	defer cancel()
	resp, ch := stream(t, ctx, c, u)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	var first struct {
		ID         string
		Status     string
		Activities []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(next(t, ch, "run").data), &first); err != nil || first.ID != run.ID || len(first.Activities) < 6 {
		t.Fatalf("first event: %v %+v", err, first)
	}
	next(t, ch, "heartbeat")
	st.UpdateTask(bg, run.ID, "lapsed", state.TaskUpdate{Status: state.TaskSucceeded, At: at, Ports: map[string]int64{"out": 12}})
	var ch1 struct {
		Status      string
		Activities  []struct{ ID, Status string }
		Transitions []struct {
			From, Port string
			Count      *int64
		}
	}
	if err := json.Unmarshal([]byte(next(t, ch, "change").data), &ch1); err != nil {
		t.Fatal(err)
	}
	if len(ch1.Activities) != 1 || ch1.Activities[0].ID != "lapsed" || ch1.Activities[0].Status != "succeeded" ||
		len(ch1.Transitions) != 1 || ch1.Transitions[0].From != "lapsed" || ch1.Transitions[0].Count == nil || *ch1.Transitions[0].Count != 12 {
		t.Fatalf("change: want only lapsed and lapsed.out: %+v", ch1)
	}
	// Quiet hours and a held send, as the canvas says them.
	st.UpdateTask(bg, run.ID, "sendVip", state.TaskUpdate{Status: state.TaskRunning, At: at})
	st.UpdateTask(bg, run.ID, "sendVip", state.TaskUpdate{At: at, Waiting: &state.TaskWait{Reason: state.WaitQuietHours, Until: at.Add(22 * time.Hour), Zone: "Europe/Paris"}})
	// Two writes: the stream may see the start of the task first, then its wait.
	for e := next(t, ch, "change"); !strings.Contains(e.data, `"reason":"quiet hours","until":"2026-03-02T07:00:00Z","zone":"Europe/Paris"`); e = next(t, ch, "change") {
		if !strings.Contains(e.data, `"id":"sendVip"`) {
			t.Fatalf("quiet hours change: %s", e.data)
		}
	}
	if _, err := st.SetRunStatus(bg, run.ID, state.RunRunning, state.RunStopped, "stopped by a test", at); err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch, "end"); !strings.Contains(e.data, `"status":"stopped"`) {
		t.Errorf("end: %s", e.data)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("the stream goes on after its end event")
		}
	case <-time.After(5 * time.Second):
		t.Error("the stream is still open after its end event")
	}
	// A logout ends a stream of the session.
	run2, _, _ := st.StartRun(bg, state.Run{CampaignID: "winback-q4", StartedAt: at})
	_, ch2 := stream(t, ctx, c, hs.URL+"/ui/runs/"+run2.ID+"/events")
	next(t, ch2, "run")
	do(t, c, "POST", hs.URL+"/logout", hs.URL, url.Values{"csrf": {csrf}})
	next(t, ch2, "logout")
	// The server's shutdown (Close) ends open streams.
	c = client()
	login(t, c, hs.URL)
	_, ch3 := stream(t, ctx, c, hs.URL+"/ui/runs/"+run2.ID+"/events")
	next(t, ch3, "run")
	hs.Config.Handler.(*console.Console).Close()
	for closed := time.After(5 * time.Second); ; {
		select {
		case e, ok := <-ch3:
			if !ok {
				return
			}
			if e.name != "" {
				t.Errorf("after Close: %s", e.name)
			}
		case <-closed:
			t.Fatal("the stream is still open 5 s after Close")
		}
	}
}
