package targeting_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// runCampaign runs a compiled campaign end to end through its state machine,
// as the local executor does (waits skipped).
func (e *env) runCampaign(p *compile.Program, runID string, test bool) *runner.Summary {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.state.CreateCampaign(ctx, state.Campaign{ID: p.Campaign.ID, Name: p.Campaign.Name, Draft: p.Bundle.Campaign}); err != nil && !errors.Is(err, state.ErrExists) {
		e.t.Fatal(err)
	}
	e.aenv.Clock = func() time.Time { return runNow }
	r := &runner.Runner{Registry: e.reg, Env: e.aenv, Store: e.state, Plans: e.plans}
	input, _ := json.Marshal(runner.ExecutionInput{RunID: runID, Test: test})
	outJSON, err := interp.Run(ctx, p.JSON, input, interp.Options{Invoker: r, Wait: interp.WaitSkip, ExecutionName: runID})
	if err != nil {
		e.t.Fatalf("run %s: %v", runID, err)
	}
	var s runner.Summary
	if err := json.Unmarshal(outJSON, &s); err != nil {
		e.t.Fatal(err)
	}
	return &s
}

// A whole targeting chain: audience with a link aggregate, enrichment,
// deduplication, split with skipEmpty and others, save-audience.
func TestCampaignEndToEnd(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(`version: 1
id: chain
name: chain
dimension: customers
activities:
  # Customers with a purchase: C01 C02 C03 C07 C09.
  - { id: buyers, type: build-audience, where: { link: purchases, exists: true } }
  - id: rich
    type: enrichment
    from: buyers
    add:
      - { name: spend, link: purchases, aggregate: sum, field: amount }
      - { name: city, field: store.city }
  # One per email, the biggest spender: a@x.com → C02 (100 > 35.75); C07 (300) over C09 (null).
  - { id: dedup, type: deduplication, from: rich, by: [email], method: first, orderBy: [{ field: spend, desc: true }], complement: true }
  - id: bySpend
    type: split
    from: dedup
    segments:
      - { name: vip, where: { field: spend, op: gte, value: 100 } }
      - { name: paris, where: { field: city, op: eq, value: Paris } }
      - { name: nobody, where: { field: country, op: eq, value: XX }, skipEmpty: true }
    others: true
  - { id: save, type: save-audience, from: bySpend.vip, audience: vips }
  - { id: afterNobody, type: deduplication, from: bySpend.nobody, by: [email] }
  - { id: backToAll, type: combine, from: [bySpend.vip, bySpend.others, dedup.duplicates], operation: union }
`)
	for _, test := range []bool{true, false} {
		s := e.runCampaign(p, map[bool]string{true: "test1", false: "live1"}[test], test)
		if s.Status != "succeeded" {
			t.Fatalf("test=%v: %+v", test, s)
		}
		want := map[string]map[string]int64{
			"buyers":      {"out": 5},
			"rich":        {"out": 5},
			"dedup":       {"out": 3, "duplicates": 2},
			"bySpend":     {"vip": 2, "paris": 0, "others": 1},
			"save":        {"out": 2},
			"afterNobody": {},
			"backToAll":   {"out": 5},
		}
		for id, ports := range want {
			a := s.Activities[id]
			if len(a.Ports) != len(ports) {
				t.Errorf("test=%v %s: ports %v, want %v", test, id, a.Ports, ports)
			}
			for port, n := range ports {
				if got, ok := a.Ports[port]; !ok || got != n {
					t.Errorf("test=%v %s.%s = %d (activated %v), want %d", test, id, port, got, ok, n)
				}
			}
		}
		if st := s.Activities["afterNobody"].Status; st != "skipped" {
			t.Errorf("afterNobody: %s", st)
		}
		_, err := e.state.GetAudience(context.Background(), "vips")
		if test && !errors.Is(err, state.ErrNotFound) {
			t.Errorf("a test run saved the audience: %v", err)
		}
		if !test && err != nil {
			t.Errorf("the live run did not save the audience: %v", err)
		}
	}
}
