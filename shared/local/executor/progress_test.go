package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/plan"
	"github.com/stepwise-run/stepwise/shared/state"
)

// fakeLedger holds settled and pending entries of one activity.
type fakeLedger struct{ sent, failed, pending int }

func (f *fakeLedger) ListSends(_ context.Context, runID, act string, p state.Page) ([]state.LedgerEntry, string, error) {
	var all []state.LedgerEntry
	add := func(n int, s state.SendStatus) {
		for range n {
			all = append(all, state.LedgerEntry{SendKey: state.SendKey{RunID: runID, Activity: act, Recipient: fmt.Sprint(len(all))}, Status: s})
		}
	}
	add(f.sent, state.SendSent)
	add(f.failed, state.SendFailed)
	add(f.pending, state.SendPending)
	from := 0
	if p.After != "" {
		fmt.Sscan(p.After, &from)
	}
	to := min(from+p.Limit, len(all))
	next := ""
	if to < len(all) {
		next = fmt.Sprint(to)
	}
	return all[from:to], next, nil
}

func testProgram() *compile.Program {
	wait := asl.StateMachine{StartAt: "Start"}
	wait.States.Add("pause", &asl.State{Type: "Wait", Seconds: asl.Int(3600), End: true})
	wave := asl.Branch{StartAt: "first:until"}
	wave.States.Add("first:until", &asl.State{Type: "Wait", TimestampPath: "$.at", End: true})
	wait.States.Add("first:waves", &asl.State{Type: "Map", ItemProcessor: &wave, End: true})
	wait.States.Add("first:hold", &asl.State{Type: "Wait", Seconds: asl.Int(60), End: true})
	def, _ := asl.Marshal(&wait)
	return &compile.Program{JSON: def,
		Specs: map[string]*activity.Spec{"first": {Type: "email"}, "pause": {Type: "wait"}, "load": {Type: "load-file"}},
		States: plan.States{Start: "Start", Activities: map[string]plan.State{
			"first": {Activity: "first", Role: plan.RoleWork}, "first:waves": {Activity: "first", Role: plan.RoleWork},
			"first:held": {Activity: "first", Role: plan.RoleWork}, "first:hold": {Activity: "first", Role: plan.RoleWork},
			"first:confirm": {Activity: "first", Role: plan.RoleWork}, "first:finish": {Activity: "first", Role: plan.RoleWork},
			"load:suspend": {Activity: "load", Role: plan.RoleWork}, "load:wait": {Activity: "load", Role: plan.RoleWork},
			"pause": {Activity: "pause", Role: plan.RoleWork}, "load": {Activity: "load", Role: plan.RoleWork}}}}
}

func raw(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// The tracker reports the run id, a held send and its release, a suspended
// activity and its resumption, waits (quiet hours, a wait activity, scaled),
// but not a poll loop's wait.
func TestTrackerReportsHeldSuspendedWaiting(t *testing.T) {
	var got []Progress
	tr := newTracker(testProgram(), func(p Progress) { got = append(got, p) })
	tr.wait = interp.WaitScale(2)
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	inMapPath := interp.Path{{State: "first:waves", Branch: -1, Index: 0}}
	for _, ev := range []interp.Event{
		{Type: interp.StateExited, State: "Start", Time: at(0), Output: raw(map[string]any{"run": map[string]any{"id": "R1"}})},
		{Type: interp.StateEntered, State: "first", StateType: "Task", Time: at(1)},
		{Type: interp.StateExited, State: "first", Time: at(2), Next: "first:held", Output: raw(map[string]any{"r": map[string]any{"first": map[string]any{"status": "succeeded", "counts": map[string]int{}, "extra": map[string]any{"held": true}}}})},
		{Type: interp.StateEntered, State: "first:hold", StateType: "Wait", Time: at(3)},
		{Type: interp.StateExited, State: "first:confirm", Time: at(4), Next: "first:held", Output: raw(map[string]any{"r": map[string]any{"first": map[string]any{"status": "succeeded", "counts": map[string]int{}, "extra": map[string]any{"held": false}}}})},
		{Type: interp.StateEntered, State: "first:until", StateType: "Wait", Path: inMapPath, Time: at(5), Input: raw(map[string]any{"at": "2026-03-01T08:00:00Z"})},
		{Type: interp.StateEntered, State: "load", StateType: "Task", Time: at(6)},
		{Type: interp.StateEntered, State: "load:suspend", StateType: "Task", Time: at(7), Input: raw(map[string]any{"error": map[string]any{"Error": "InvalidInput", "Cause": `{"errorMessage":"fix me"}`}})},
		{Type: interp.StateEntered, State: "load:wait", StateType: "Wait", Time: at(8)},
		{Type: interp.StateEntered, State: "load", StateType: "Task", Time: at(9)},
		{Type: interp.StateEntered, State: "pause", StateType: "Wait", Time: at(10)},
	} {
		tr.event(ev)
	}
	want := []string{
		"started R1", "running first", "held first", "released first",
		"waiting first quiet hours until 07:00:02", // 1:59:55 to 08:00, halved
		"running load", "suspended load InvalidInput: fix me", "resumed load",
		"running pause", "waiting pause wait until 06:30:10",
	}
	var have []string
	for _, p := range got {
		s := p.Status + " " + p.Activity
		if p.Status == ProgressStarted {
			s += p.RunID
		}
		if p.Reason != "" {
			s += " " + p.Reason
		}
		if !p.Until.IsZero() {
			s += " until " + p.Until.Format("15:04:05")
		}
		have = append(have, s)
	}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("events:\n got %q\nwant %q", have, want)
	}
}

// Sends under way are counted from the ledger (a test run's from its
// finished slices), reported with the rate since the last report, and not
// reported again while nothing moves. The clock is the caller's.
func TestSamplerReportsSends(t *testing.T) {
	var got []Progress
	tr := newTracker(testProgram(), func(p Progress) { got = append(got, p) })
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	tr.event(interp.Event{Type: interp.StateExited, State: "Start", Time: t0, Output: raw(map[string]any{"run": map[string]any{"id": "R1"}})})
	planRes := map[string]any{"status": "succeeded", "counts": map[string]int{}, "extra": map[string]any{"waves": []any{
		map[string]any{"at": "2026-03-01T06:00:00Z", "slices": []any{map[string]any{"count": 60}, map[string]any{"count": 40}}},
		map[string]any{"at": "2026-03-01T07:00:00Z", "slices": []any{map[string]any{"count": 20}}}}}}
	tr.event(interp.Event{Type: interp.StateEntered, State: "first:waves", StateType: "Map", Time: t0, Input: raw(map[string]any{"r": map[string]any{"first": planRes}})})
	led := &fakeLedger{sent: 50, pending: 7}
	s := &sampler{t: tr, ledger: led}
	s.sample(context.Background(), t0.Add(10*time.Second))
	led.sent, led.failed = 90, 10
	s.sample(context.Background(), t0.Add(30*time.Second))
	s.sample(context.Background(), t0.Add(40*time.Second)) // nothing moved
	// A test run has no ledger: finished slices count.
	tr.event(interp.Event{Type: interp.StateExited, State: "first:slice", Path: interp.Path{{State: "first:waves", Index: 0}, {State: "first:send", Index: 0}}, Time: t0,
		Output: raw(map[string]any{"sent": map[string]any{"status": "succeeded", "counts": map[string]int{"out": 100, "skipped": 10}}})})
	s.sample(context.Background(), t0.Add(50*time.Second))
	var have []string
	for _, p := range got {
		if p.Status == ProgressSending {
			have = append(have, fmt.Sprintf("%d/%d %.1f/s", p.Done, p.Total, p.Rate))
		}
	}
	want := []string{"50/120 5.0/s", "100/120 2.5/s", "110/120 0.5/s"}
	if fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("sending: got %q, want %q", have, want)
	}
	// The activity's end ends its reports.
	tr.event(interp.Event{Type: interp.StateExited, State: "first:finish", Time: t0, Output: raw(map[string]any{"r": map[string]any{"first": map[string]any{"status": "succeeded", "counts": map[string]int{"out": 100}, "ports": map[string]any{"out": "x"}}}})})
	if len(tr.sending) != 0 {
		t.Errorf("still sending after the end: %v", tr.sending)
	}
}

// A listed plan's sends (engine athena: a distributed Map, "fanout") are
// reported as the inline Map's are: the total from extra.sliceList, the
// finished children's slices counted.
func TestSamplerReportsListedSends(t *testing.T) {
	var got []Progress
	tr := newTracker(testProgram(), func(p Progress) { got = append(got, p) })
	t0 := time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC)
	tr.event(interp.Event{Type: interp.StateExited, State: "Start", Time: t0, Output: raw(map[string]any{"run": map[string]any{"id": "R1"}})})
	planRes := map[string]any{"status": "succeeded", "counts": map[string]int{}, "extra": map[string]any{
		"sliceList": map[string]any{"bucket": "b", "key": "runs/R1/first/_slices.json", "results": "runs/R1/first/_sent", "slices": 2, "rows": 150}}}
	tr.event(interp.Event{Type: interp.StateEntered, State: "first:fanout", StateType: "Map", Time: t0, Input: raw(map[string]any{"r": map[string]any{"first": planRes}})})
	s := &sampler{t: tr}
	tr.event(interp.Event{Type: interp.StateExited, State: "first:listed slice", Path: interp.Path{{State: "first:fanout", Index: 1}}, Time: t0,
		Output: raw(map[string]any{"sent": map[string]any{"status": "succeeded", "counts": map[string]int{"out": 45, "skipped": 5}}})})
	s.sample(context.Background(), t0.Add(10*time.Second))
	var have []string
	for _, p := range got {
		if p.Status == ProgressSending {
			have = append(have, fmt.Sprintf("%d/%d", p.Done, p.Total))
		}
	}
	if want := []string{"50/150"}; fmt.Sprint(have) != fmt.Sprint(want) {
		t.Errorf("sending: got %q, want %q", have, want)
	}
}
