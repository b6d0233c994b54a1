package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// Every bench campaign's limit selects and renders the messages Stepwise
// sends: each campaign runs in test mode on 3,000 sample customers at a fixed
// instant, the limit streams its statement into the render loop at the same
// instant, and the counts of every email activity agree; the transitions
// side counts every port as the run does.
func TestLimitsAgree(t *testing.T) {
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	dir := t.TempDir()
	var all []*benchCampaign
	for i := range campaigns {
		all = append(all, &campaigns[i])
	}
	if err := layout(dir, 3000, at, all); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, bc := range all {
		t.Run(bc.Name, func(t *testing.T) {
			p, diags := builtin.CompileFiles(filepath.Join(dir, bc.File), "")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			l, err := executor.Open(filepath.Join(dir, "home-"+bc.Name))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			l.Env.Clock = func() time.Time { return at }
			sum, err := l.Run(ctx, p, executor.Options{Test: true, Wait: interp.WaitSkip})
			if err != nil || sum.Status != "succeeded" {
				t.Fatalf("run: %v %+v", err, sum)
			}
			db, closeDB, err := openDuckDB()
			if err != nil {
				t.Fatal(err)
			}
			defer closeDB()
			r, err := newRenderer(dir, bc, sum.RunID, at)
			if err != nil {
				t.Fatal(err)
			}
			var first message
			r.sample = func(m message) { first = m }
			q, args := bc.SQL(filepath.Join(dir, "data"), dir, at)
			st, err := r.stream(ctx, db, q, args...)
			if err != nil {
				t.Fatal(err)
			}
			for i, id := range bc.Emails {
				want := sum.Activities[id].Ports["out"]
				if want == 0 {
					t.Errorf("%s sends nothing: the sample should reach every email activity", id)
				}
				if st.perEmail[i] != want {
					t.Errorf("%s: the limit renders %d messages, Stepwise sends %d", id, st.perEmail[i], want)
				}
			}
			if !strings.Contains(first.HTML, unsubscribeBase+"/unsubscribe/") || first.Headers["List-Unsubscribe"] == "" || strings.Contains(first.HTML, "{{") {
				t.Errorf("a rendered message lacks its link or holds template text: %+v", first)
			}
			// Without a sample the limit checks each message (Blank) and keeps none.
			r.sample = nil
			checked, err := r.stream(ctx, db, q, args...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(checked.perEmail, st.perEmail) {
				t.Errorf("checked %v messages, rendered %v", checked.perEmail, st.perEmail)
			}
			// The transitions side computes every port as the run does, and
			// renders the same messages.
			tr := bc.Transitions(filepath.Join(dir, "data"), dir, at)
			counts, err := runTransitions(ctx, db, tr)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{}
			for id, a := range sum.Activities {
				for p, n := range a.Ports {
					want[id+"."+p] = n
				}
			}
			if d := countsDiffer(want, counts); d != "" {
				t.Errorf("transitions side: %s", d)
			}
			all, err := r.stream(ctx, db, tr.Final)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(all.perEmail, st.perEmail) {
				t.Errorf("transitions side renders %v messages, the limit %v", all.perEmail, st.perEmail)
			}
		})
	}
}
