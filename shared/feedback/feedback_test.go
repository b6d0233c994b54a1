package feedback_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

func read(t *testing.T, name string) []feedback.Record {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := feedback.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestParseSESBounceInSNS(t *testing.T) {
	recs := read(t, "ses-bounce-sns.json")
	if len(recs) != 1 {
		t.Fatalf("%+v", recs)
	}
	r := recs[0]
	if r.Event != feedback.Bounced || !r.Permanent || r.Address != "Ann@Example.com" || r.Campaign != "winback-q4" || r.Activity != "sendVip" ||
		r.Run != "run-1" || r.Recipient != "c01" || r.Token != "sw-aaaa" || r.MessageID != "0100017-m1" || r.Detail != "Permanent/General" ||
		!r.At.Equal(time.Date(2026, 6, 1, 10, 0, 5, 123e6, time.UTC)) || r.ID == "" || r.Channel != "email" {
		t.Errorf("%+v", r)
	}
}

type sup struct{ got []state.Suppression }

func (s *sup) Suppress(_ context.Context, x state.Suppression) (state.Suppression, error) {
	x, err := state.NewSuppression(x)
	s.got = append(s.got, x)
	return x, err
}

func (s *sup) CheckSuppressed(_ context.Context, channel string, addresses ...string) (map[string]state.Suppression, error) {
	out := map[string]state.Suppression{}
	for _, a := range addresses {
		n, _ := state.NewSuppression(state.Suppression{Channel: channel, Address: a, Reason: state.SuppressComplaint})
		for _, x := range s.got {
			if x.Channel == n.Channel && x.Address == n.Address {
				out[a] = x
			}
		}
	}
	return out, nil
}

func TestParseAndApply(t *testing.T) {
	recs := append(read(t, "ses-bounce-sns.json"), read(t, "ses-events.jsonl")...)
	got := map[string]feedback.Event{}
	for _, r := range recs {
		got[r.Recipient+"/"+string(r.Event)] = r.Event
	}
	for _, k := range []string{"c01/bounced", "c02/delivered", "c02/opened", "c02/clicked", "c03/bounced", "c04/complained", "c05/unsubscribed", "c06/delivered", "c07/bounced"} {
		if _, ok := got[k]; !ok {
			t.Errorf("missing %s in %v", k, got)
		}
	}
	s := &sup{}
	n, err := feedback.Apply(context.Background(), s, recs)
	if err != nil {
		t.Fatal(err)
	}
	// Hard bounces (email c01, sms c07), the complaint and the unsubscribe;
	// not the soft bounce.
	want := map[string]state.SuppressionReason{"email/ann@example.com": state.SuppressHardBounce, "email/dee@example.com": state.SuppressComplaint,
		"email/eve@example.com": state.SuppressUnsubscribe, "sms/+33600000000": state.SuppressHardBounce}
	if n != len(want) {
		t.Errorf("%d suppressed: %+v", n, s.got)
	}
	for _, x := range s.got {
		if want[x.Channel+"/"+x.Address] != x.Reason {
			t.Errorf("unexpected %+v", x)
		}
	}
	// The same events again: nothing newly suppressed.
	if n, err := feedback.Apply(context.Background(), s, recs); err != nil || n != 0 {
		t.Errorf("applied again: %d newly suppressed, %v", n, err)
	}
}

func TestFromUnsubscribe(t *testing.T) {
	r := feedback.FromUnsubscribe(unsubscribe.Claims{Campaign: "c", Run: "r", Activity: "a", Recipient: "k", Channel: "email", Address: "x@example.com"}, time.Now())
	s, ok := feedback.SuppressionOf(r)
	if !ok || s.Reason != state.SuppressUnsubscribe || s.Address != "x@example.com" {
		t.Errorf("%+v %v", s, ok)
	}
}

type tables struct{ cur state.TableVersion }

func (t *tables) CurrentTable(context.Context, string) (state.TableVersion, error) {
	if t.cur.Version == 0 {
		return t.cur, state.ErrNotFound
	}
	return t.cur, nil
}

func (t *tables) CommitTable(_ context.Context, table string, expected int64, ref string, at time.Time) (state.TableVersion, error) {
	if expected != t.cur.Version {
		return t.cur, fmt.Errorf("%w", state.ErrConflict)
	}
	t.cur = state.TableVersion{Table: table, Version: expected + 1, Ref: ref, CommittedAt: at}
	return t.cur, nil
}

// Appending the same events twice adds them once.
func TestAppendIdempotent(t *testing.T) {
	dir := t.TempDir()
	bs, err := folderblob.New(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := dataset.New(dataset.Options{Store: bs, WorkDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tb := &tables{}
	recs := append(read(t, "ses-bounce-sns.json"), read(t, "ses-events.jsonl")...)
	ctx := context.Background()
	n, err := feedback.Append(ctx, eng, tb, dir, recs, time.Now())
	if err != nil || n != int64(len(recs)) {
		t.Fatalf("first append: %d %v", n, err)
	}
	n, err = feedback.Append(ctx, eng, tb, dir, recs, time.Now())
	if err != nil || n != 0 || tb.cur.Version != 1 {
		t.Fatalf("second append: %d %v (version %d)", n, err, tb.cur.Version)
	}
	p, err := eng.Preview(ctx, dataset.Ref(tb.cur.Ref), 100)
	if err != nil || p.Total != int64(len(recs)) {
		t.Fatalf("%v %v", p, err)
	}
	cols := map[string]bool{}
	for _, c := range p.Columns {
		cols[c.Name] = true
	}
	for _, c := range feedback.Columns {
		if !cols[c.Name] {
			t.Errorf("column %s missing", c.Name)
		}
	}
}

// A Stepwise record sent as a queue message (the API's one-click unsubscribes) is read
// back as itself: its string detail is not an EventBridge envelope.
func TestParseOwnRecord(t *testing.T) {
	r := feedback.FromUnsubscribe(unsubscribe.Claims{Campaign: "c", Run: "r", Activity: "a", Recipient: "k",
		Channel: "email", Address: "x@example.com"}, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := feedback.ParseEvent(body)
	if err != nil || len(got) != 1 || got[0].ID != r.ID || got[0].Detail != "one-click" || got[0].Event != feedback.Unsubscribed {
		t.Fatalf("%v %+v", err, got)
	}
}
