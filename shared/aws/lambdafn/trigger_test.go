package lambdafn_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// fakeSFN records executions; a name started twice exists.
type fakeSFN struct {
	mu    sync.Mutex
	names map[string]runner.ExecutionInput
	sms   map[string]string
}

func (f *fakeSFN) StartExecution(_ context.Context, sm, name string, input []byte) (string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.names == nil {
		f.names, f.sms = map[string]runner.ExecutionInput{}, map[string]string{}
	}
	arn := lambdafn.ExecutionARN(sm, name)
	if _, ok := f.names[name]; ok {
		return arn, true, nil
	}
	var in runner.ExecutionInput
	if err := json.Unmarshal(input, &in); err != nil {
		return "", false, err
	}
	f.names[name], f.sms[name] = in, sm
	return arn, false, nil
}

const smPrefix = "arn:aws:states:eu-west-1:123456789012:stateMachine:stepwise-dev-"

func publishedStore(t *testing.T, aslRef string) *boltstate.Store {
	t.Helper()
	st, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	if _, err := st.CreateCampaign(ctx, state.Campaign{ID: "news", Name: "News"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PublishVersion(ctx, state.Version{CampaignID: "news", Number: 1, Document: []byte("x"), ASLRef: aslRef}, state.CampaignDraft, state.CampaignScheduled); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTriggerScheduledSlotFiresOnce(t *testing.T) {
	st := publishedStore(t, "")
	ex := &fakeSFN{}
	slot := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	tr := &lambdafn.Trigger{Store: st, Executions: ex, StateMachinePrefix: smPrefix, Grace: time.Hour,
		Now: func() time.Time { return slot.Add(30 * time.Second) }}
	ev := lambdafn.TriggerEvent{Campaign: "news", ScheduledTime: slot.Format(time.RFC3339)}
	first, err := tr.Handle(context.Background(), ev)
	if err != nil || first.Status != lambdafn.TriggerStarted || first.RunID == "" {
		t.Fatalf("first delivery: %+v, %v", first, err)
	}
	// The Scheduler delivers at least once: a redelivery starts nothing new.
	again, err := tr.Handle(context.Background(), ev)
	if err != nil || again.Status != lambdafn.TriggerDuplicate || again.RunID != first.RunID {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
	in := ex.names[first.RunID]
	if ex.sms[first.RunID] != smPrefix+"news" || in.RunID != first.RunID || in.Version != 1 || in.IdempotencyKey != "schedule:2026-12-07T08:00:00Z" {
		t.Errorf("execution %s of %s with %+v", first.RunID, ex.sms[first.RunID], in)
	}
	f, err := st.GetFiring(context.Background(), "news", slot)
	if err != nil || f.Status != state.FiringFired || f.RunID != first.RunID {
		t.Errorf("firing %+v, %v", f, err)
	}
}

func TestTriggerLateSlotExpires(t *testing.T) {
	st := publishedStore(t, "")
	ex := &fakeSFN{}
	slot := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	tr := &lambdafn.Trigger{Store: st, Executions: ex, StateMachinePrefix: smPrefix, Grace: time.Hour,
		Now: func() time.Time { return slot.Add(3 * time.Hour) }}
	res, err := tr.Handle(context.Background(), lambdafn.TriggerEvent{Campaign: "news", ScheduledTime: slot.Format(time.RFC3339)})
	if err != nil || res.Status != lambdafn.TriggerExpired || len(ex.names) != 0 {
		t.Fatalf("%+v, %v, executions %v", res, err, ex.names)
	}
}

func TestTriggerSignalIdempotencyKey(t *testing.T) {
	arn := "arn:aws:states:eu-west-1:123456789012:stateMachine:custom-news"
	st := publishedStore(t, arn)
	ex := &fakeSFN{}
	tr := &lambdafn.Trigger{Store: st, Executions: ex}
	params := map[string]any{"region": "FR"}
	id1, err := tr.Trigger(context.Background(), "news", params, "order-42")
	if err != nil {
		t.Fatal(err)
	}
	id2, err := tr.Trigger(context.Background(), "news", params, "order-42")
	if err != nil || id2 != id1 {
		t.Fatalf("same key gave runs %s and %s (%v)", id1, id2, err)
	}
	id3, _ := tr.Trigger(context.Background(), "news", params, "")
	if id3 == id1 || len(ex.names) != 2 {
		t.Errorf("no key must start a new run: %s, executions %d", id3, len(ex.names))
	}
	if ex.sms[id1] != arn || ex.names[id1].Params["region"] != "FR" {
		t.Errorf("execution of %s with %+v", ex.sms[id1], ex.names[id1])
	}
}

func TestTriggerRefusals(t *testing.T) {
	st := publishedStore(t, "")
	ctx := context.Background()
	if _, err := st.CreateCampaign(ctx, state.Campaign{ID: "draft"}); err != nil {
		t.Fatal(err)
	}
	tr := &lambdafn.Trigger{Store: st, Executions: &fakeSFN{}, StateMachinePrefix: smPrefix}
	var inv *activity.InvalidInput
	for _, ev := range []lambdafn.TriggerEvent{{Campaign: "Bad Id"}, {Campaign: "missing"}, {Campaign: "draft"}} {
		if _, err := tr.Handle(ctx, ev); !errors.As(err, &inv) {
			t.Errorf("%+v: err %v, want InvalidInput", ev, err)
		}
	}
	// A schedule that outlived its campaign's publication is ignored, not
	// failed: the Scheduler would retry a failure.
	res, err := tr.Handle(ctx, lambdafn.TriggerEvent{Campaign: "draft", ScheduledTime: "2026-12-07T08:00:00Z"})
	if err != nil || res.Status != lambdafn.TriggerIgnored {
		t.Errorf("%+v, %v", res, err)
	}
}
