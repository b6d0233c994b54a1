package api

import (
	"context"
	"os"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Compilation stops at the next check once the request's context is done: a request
// cancelled during the first condition check runs no other check.
func TestCompileStopsWhenCancelled(t *testing.T) {
	doc, err := os.ReadFile("testdata/flow.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(Options{Sources: DirSources{Dir: "testdata"}})
	if _, diags, e := s.compileDoc(context.Background(), "flow-only", doc); e != nil || diags.HasErrors() {
		t.Fatalf("fixture does not compile: %v %v", e, diags)
	}
	ctx, cancel := context.WithCancel(context.Background())
	checks := 0
	inner := s.checkers.TestCondition
	s.checkers.TestCondition = func(r campaign.Reporter, path string, cond *condition.Condition, p *compile.Program) *condition.Checked {
		checks++
		cancel() // the client goes away during this check
		return inner(r, path, cond, p)
	}
	p, _, e := s.compileDoc(ctx, "flow-only", doc)
	if e == nil || e.Code != codeDeadline || p != nil {
		t.Fatalf("cancelled compile: program %v, error %v", p != nil, e)
	}
	if checks != 1 {
		t.Fatalf("%d checks ran after the cancellation, want the one it happened in", checks)
	}
}
