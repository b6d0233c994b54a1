package channel_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
	"github.com/stepwise-run/stepwise/shared/state"
)

// A plan phase asked to finish (Request.Finish) whose plan has one slice
// sends it and finishes in the same task: the same ports and rows as plan,
// send and finish one after another, each recipient messaged once live,
// and a retried task sends nobody again.
func TestPlanFinishesOneSlice(t *testing.T) {
	for _, test := range []bool{true, false} {
		h := newHarness(t)
		ctx := context.Background()
		h.store.Suppress(ctx, state.Suppression{Channel: "email", Address: "GUS@example.com", Reason: state.SuppressComplaint})
		inA := h.population("runA", basePopulation())
		inB := h.population("runB", basePopulation())
		phased := h.run("news", "runA", test, inA)

		req := h.request("news", "runB", test, inB, channel.PhasePlan)
		req.Finish = true
		whole, err := h.do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if done, _ := whole.Extra[activity.ExtraFinished].(bool); !done || len(whole.Slices) != 0 {
			t.Fatalf("test %v: not finished: %+v", test, whole)
		}
		if !reflect.DeepEqual(phased.Counts, whole.Counts) {
			t.Errorf("test %v: counts %v, phased %v", test, whole.Counts, phased.Counts)
		}
		if a, b := byID(h.rows(phased, "skipped"), "reason"), byID(h.rows(whole, "skipped"), "reason"); !reflect.DeepEqual(a, b) {
			t.Errorf("test %v: skipped %v, phased %v", test, b, a)
		}
		if a, b := keys(byID(h.rows(phased, "out"), "messageId")), keys(byID(h.rows(whole, "out"), "messageId")); !reflect.DeepEqual(a, b) {
			t.Errorf("test %v: out %v, phased %v", test, b, a)
		}
		if test {
			continue
		}
		again, err := h.do(ctx, req) // a retried task
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again.Ports, whole.Ports) {
			t.Errorf("retry: ports %v, first %v", again.Ports, whole.Ports)
		}
		recs, err := outbox.ReadFile(outbox.Path(h.outbox.Dir(), "runB", "news"))
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, r := range recs {
			per[r.Tags["recipient"]]++
		}
		if int64(len(recs)) != whole.Counts["out"] || len(per) != len(recs) {
			t.Errorf("%d messages to %d recipients for %d on out", len(recs), len(per), whole.Counts["out"])
		}
	}
}

// Without Finish (a machine compiled before it) the plan phase only plans.
func TestPlanWithoutFinishOnlyPlans(t *testing.T) {
	h := newHarness(t)
	in := h.population("run1", basePopulation())
	res := h.plan("news", "run1", true, in)
	if _, ok := res.Extra[activity.ExtraFinished]; ok || len(res.Slices) != 1 {
		t.Fatalf("%+v", res)
	}
}
