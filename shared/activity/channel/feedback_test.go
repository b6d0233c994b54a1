package channel_test

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
)

// A live send records `sent` rows in message_feedback; with an imported
// open, a condition retargets those who received `news` but did not open it.
func TestRetargetOnFeedback(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	in := h.population("fb1", basePopulation())
	// The population is also the customers table's current version.
	tables := tablelog.New(h.engine().Store(), nil)
	if _, err := tables.CommitTable(ctx, "customers", 0, *in.Ref, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	res := h.run("news", "fb1", false, in)
	sent := keys(byID(h.rows(res, "out"), "messageId"))
	if len(sent) < 3 {
		t.Fatalf("sent %v", sent)
	}
	opener := sent[0]
	open := feedback.Record{ID: "open-1", Event: feedback.Opened, Channel: "email", Campaign: "channel-test", Activity: "news",
		Run: "fb1", Recipient: opener, At: h.clock.Now()}
	if _, err := feedback.Append(ctx, h.engine(), tables, h.env.WorkDir, []feedback.Record{open}, h.clock.Now()); err != nil {
		t.Fatal(err)
	}
	req := &activity.Request{Campaign: h.p.Campaign.ID, Plan: h.p.Bundle.Digest, Activity: "retarget",
		Run: activity.RunInfo{ID: "fb1", Now: h.clock.Now().Format("2006-01-02T15:04:05Z")}, Inputs: []activity.Input{{From: "news", Port: "out", Ref: res.Ports["out"], Count: res.Counts["out"]}}}
	r, err := h.do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	got := keys(byID(h.rows(r, "out"), "email"))
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(sent[1:], ",") {
		t.Errorf("retargeted %v, want %v (sent %v, opened %s)", got, sent[1:], sent, opener)
	}
}
