package channel_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
)

// taskLines collects task log lines.
type taskLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *taskLines) AppendTaskLog(_ context.Context, _, _ string, _ time.Time, lines ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, lines...)
	return nil
}

// runLogged runs plan, every slice and finish as h.run does, with a task log.
func runLogged(h *harness, act, run string, in activity.Input) []string {
	h.t.Helper()
	log := &taskLines{}
	do := func(req *activity.Request) *activity.Result {
		comp, err := h.plans.Load(context.Background(), req.Campaign, req.Plan)
		if err != nil {
			h.t.Fatal(err)
		}
		a, cfg, _ := comp.Config(req.Activity)
		spec, _ := h.reg.Lookup(a.Type)
		res, err := spec.Run(context.Background(), &activity.Call{Env: h.env, Req: req, Plan: comp, Activity: a, Log: log}, cfg)
		if err != nil {
			h.t.Fatalf("%s %s: %v", act, req.Phase, err)
		}
		return res
	}
	res := do(h.request(act, run, false, in, channel.PhasePlan))
	for _, sl := range slices(res) {
		req := h.request(act, run, false, in, channel.PhaseSend)
		req.Slice = &sl
		do(req)
	}
	do(h.request(act, run, false, in, channel.PhaseFinish))
	return log.lines
}

// The log lines of a send say "skipped 0" when nothing was skipped (not
// "skipped 0 ()"), and the reasons when something was.
func TestLogSkippedText(t *testing.T) {
	h := newHarness(t)
	all := runLogged(h, "receipt", "log1", h.population("log1", []cust{
		{ID: "c1", Name: "Ann", Email: "ann@example.com"}, {ID: "c2", Name: "Bob", Email: "bob@example.com"}}))
	some := runLogged(h, "receipt", "log2", h.population("log2", []cust{
		{ID: "c1", Name: "Ann", Email: "ann@example.com"}, {ID: "c3", Name: "Cy"}}))
	if len(all) == 0 || len(some) == 0 {
		t.Fatalf("no log lines: %q, %q", all, some)
	}
	for _, l := range all {
		if strings.Contains(l, "()") || (strings.Contains(l, "skipped") && !strings.HasSuffix(l, "skipped 0")) {
			t.Errorf("nothing skipped: %q", l)
		}
	}
	t.Logf("%q\n%q", all, some)
	last := some[len(some)-1]
	if !strings.HasPrefix(last, "sent 1, skipped 1 (") || strings.Contains(last, "()") {
		t.Errorf("one skipped: %q", last)
	}
}
