package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
)

// deployer is an api.Deployer that fails while broken is set and counts its calls.
type deployer struct {
	mu     sync.Mutex
	broken bool
	calls  []api.Deployment
}

func (d *deployer) Deploy(_ context.Context, dep api.Deployment) (api.Deployed, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, dep)
	if d.broken {
		return api.Deployed{}, errors.New("the schedule step failed")
	}
	return api.Deployed{ASLRef: "sm:" + dep.CampaignID, ScheduleRef: "schedule:" + dep.CampaignID}, nil
}

func (d *deployer) Unschedule(context.Context, string) error { return nil }

func (d *deployer) deployments() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.calls)
}

// A failed deploy leaves the campaign a draft with no version and no schedule; a
// schedule already over for the API's clock is refused (422, naming the field) before
// the deployer is called; once both are fixed, publish succeeds.
func TestPublishIsAllOrNothing(t *testing.T) {
	now := time.Date(2031, 5, 14, 8, 30, 0, 0, time.UTC) // any instant: every date below is relative to it
	dep := &deployer{broken: true}
	e := newEnvWith(t, -1, func(o *api.Options) {
		o.Deployer = dep
		o.Now = func() time.Time { return now }
	})
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), http.StatusCreated, "create")

	r := e.do("POST", "/v1/campaigns/flow-only/publish", nil)
	e.expect(r, http.StatusBadGateway, "publish with a failing deployer")
	if dep.deployments() != 1 {
		t.Fatalf("deployments: %d", dep.deployments())
	}
	draft := func(what string) {
		t.Helper()
		c := e.expect(e.do("GET", "/v1/campaigns/flow-only", nil), http.StatusOK, what)
		if c.str("status") != "draft" || c.body["publishedVersion"] != nil || c.body["schedule"] != nil {
			t.Fatalf("%s: %s", what, c.raw)
		}
		vs := e.expect(e.do("GET", "/v1/campaigns/flow-only/versions", nil), http.StatusOK, what)
		if v, _ := vs.body["versions"].([]any); len(v) != 0 {
			t.Fatalf("%s: versions %s", what, vs.raw)
		}
	}
	draft("after the failed deploy")

	// The scheduler activity's window ended yesterday for the API's clock.
	until := now.AddDate(0, 0, -1).Format("2006-01-02")
	past := strings.Replace(source(t), "{ id: start, type: scheduler, every: 1d }", "{ id: start, type: scheduler, every: 1d, until: "+until+" }", 1)
	e.expect(e.do("PUT", "/v1/campaigns/flow-only", map[string]any{"source": past}), http.StatusOK, "update")
	dep.broken = false
	r = e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), http.StatusUnprocessableEntity, "publish an ended schedule")
	if r.errCode() != "invalid_campaign" || r.errPath() != "$.activities[0].until" || !strings.Contains(string(r.raw), until) {
		t.Fatalf("an ended schedule: %s", r.raw)
	}
	if dep.deployments() != 1 {
		t.Fatalf("an ended schedule reached the deployer")
	}
	draft("after the ended schedule")

	// A window that ends tomorrow publishes.
	open := strings.Replace(source(t), "{ id: start, type: scheduler, every: 1d }",
		"{ id: start, type: scheduler, every: 1d, until: "+now.AddDate(0, 0, 1).Format("2006-01-02")+" }", 1)
	e.expect(e.do("PUT", "/v1/campaigns/flow-only", map[string]any{"source": open}), http.StatusOK, "update")
	r = e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), http.StatusOK, "publish")
	if r.str("status") != "scheduled" || r.body["publishedVersion"] != float64(1) {
		t.Fatalf("published: %s", r.raw)
	}
	if s, _ := r.body["schedule"].(map[string]any); s["ref"] != "schedule:flow-only" {
		t.Fatalf("published schedule: %s", r.raw)
	}
}

// A scheduled campaign's view lists its next launches (at most 3, none past
// the schedule's end), in the list and on get; a draft has none.
func TestUpcomingLaunches(t *testing.T) {
	now := time.Date(2031, 5, 14, 8, 30, 0, 0, time.UTC) // any instant: every date below is relative to it
	e := newEnvWith(t, -1, func(o *api.Options) {
		o.Deployer = &deployer{}
		o.Now = func() time.Time { return now }
	})
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": source(t)}), http.StatusCreated, "create")
	if c := e.expect(e.do("GET", "/v1/campaigns/flow-only", nil), http.StatusOK, "draft"); c.body["upcoming"] != nil {
		t.Fatalf("a draft has launches: %s", c.raw)
	}
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), http.StatusOK, "publish")
	want := []any{"2031-05-15T08:30:00Z", "2031-05-16T08:30:00Z", "2031-05-17T08:30:00Z"}
	got := e.expect(e.do("GET", "/v1/campaigns/flow-only", nil), http.StatusOK, "get")
	if fmt.Sprint(got.body["upcoming"]) != fmt.Sprint(want) {
		t.Fatalf("upcoming %v, want %v", got.body["upcoming"], want)
	}
	list := e.expect(e.do("GET", "/v1/campaigns", nil), http.StatusOK, "list")
	cs, _ := list.body["campaigns"].([]any)
	if len(cs) != 1 || fmt.Sprint(cs[0].(map[string]any)["upcoming"]) != fmt.Sprint(want) {
		t.Fatalf("list: %s", list.raw)
	}
	// Two days later, with the window ending the day after: one launch left.
	now = now.AddDate(0, 0, 2)
	e.expect(e.do("POST", "/v1/campaigns/flow-only/back-to-draft", nil), http.StatusOK, "back to draft")
	end := strings.Replace(source(t), "{ id: start, type: scheduler, every: 1d }",
		"{ id: start, type: scheduler, every: 1d, until: "+now.AddDate(0, 0, 1).Format("2006-01-02")+" }", 1)
	e.expect(e.do("PUT", "/v1/campaigns/flow-only", map[string]any{"source": end}), http.StatusOK, "update")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), http.StatusOK, "publish again")
	got = e.expect(e.do("GET", "/v1/campaigns/flow-only", nil), http.StatusOK, "get")
	if fmt.Sprint(got.body["upcoming"]) != fmt.Sprint([]any{"2031-05-17T08:30:00Z"}) {
		t.Fatalf("upcoming in a closing window: %v", got.body["upcoming"])
	}
}
