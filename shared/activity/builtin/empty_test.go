package builtin_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/builtin/emptycase"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// TestEmptyPopulations walks the registry: every activity type, given an
// empty population on every input (and a channel after its ports), completes
// with 0 on its ports and the run succeeds, live and in test mode. The AWS
// shape runs the same cases in infra/awsshape.
func TestEmptyPopulations(t *testing.T) {
	reg := builtin.Registry()
	if miss := emptycase.Missing(reg.Types()); len(miss) > 0 {
		t.Fatalf("activity types without an empty-population case in shared/activity/builtin/emptycase/cases: %v", miss)
	}
	dir := t.TempDir()
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: 200, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	files, err := emptycase.WriteTo(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range emptycase.Types() {
		if _, ok := reg.Lookup(typ); !ok {
			t.Errorf("case %s.yaml names no registered activity type", typ)
			continue
		}
		t.Run(typ, func(t *testing.T) {
			p, diags := builtin.CompileFiles(files[typ], filepath.Join(dir, "data", "catalog.yaml"))
			if diags.HasErrors() {
				t.Fatalf("%v", diags)
			}
			subject := ""
			for _, a := range p.Campaign.Activities {
				if a.ID == emptycase.Subject {
					subject = a.Type
				}
			}
			if subject != typ {
				t.Fatalf("activity %q is a %q, want %s", emptycase.Subject, subject, typ)
			}
			// One home: a test run reads what the live run saved.
			l, err := executor.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			for _, test := range []bool{false, true} {
				s, err := l.Run(context.Background(), p, executor.Options{Test: test, Wait: interp.WaitSkip})
				if s == nil {
					t.Fatalf("test=%v: %v", test, err)
				}
				if cerr := emptycase.Check(typ, s); cerr != nil {
					t.Errorf("test=%v:\n%v", test, cerr)
				}
			}
		})
	}
}
