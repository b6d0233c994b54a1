package compile_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// Compiling any campaign never panics; when it succeeds, the ASL stays in the
// supported subset and every transition resolves.
func FuzzCompile(f *testing.F) {
	for _, name := range Examples {
		if data, err := os.ReadFile("../../examples/" + name + ".yaml"); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(header + "activities:\n  - { id: a, type: build-audience }\n  - { id: b, type: fork, from: a, branches: [x, y] }\n  - { id: c, type: and-join, from: [b.x, b.y] }\n"))
	cat := loadCatalog(f)
	reg := builtin.Registry()
	f.Fuzz(func(t *testing.T, data []byte) {
		c, diags := campaign.ParseCampaign("f.yaml", data)
		if c == nil || diags.HasErrors() {
			return
		}
		p, diags := compile.Compile(c, cat, reg, map[string][]byte{}, builtin.Checkers())
		if diags.HasErrors() {
			return
		}
		if err := subsetErr(p.JSON); err != nil {
			t.Fatal(err)
		}
		if err := structural(p.JSON); err != nil {
			t.Fatalf("%v\n%s", err, p.JSON)
		}
	})
}

// structural checks what asl-validator checks about transitions: StartAt and
// every Next/Default/Catch target exist in the same scope, and each state ends
// or moves on.
func structural(data []byte) error {
	var sm asl.StateMachine
	if err := json.Unmarshal(data, &sm); err != nil {
		return err
	}
	names := map[string]bool{}
	var scope func(start string, states asl.States) error
	scope = func(start string, states asl.States) error {
		local := map[string]bool{}
		for _, n := range states {
			if names[n.Name] {
				return fmt.Errorf("duplicate state name %q", n.Name)
			}
			names[n.Name], local[n.Name] = true, true
		}
		if !local[start] {
			return fmt.Errorf("StartAt %q is not a state", start)
		}
		for _, n := range states {
			s := n.State
			targets := []string{s.Next, s.Default}
			for _, c := range s.Catch {
				targets = append(targets, c.Next)
			}
			for _, c := range s.Choices {
				targets = append(targets, c.Next)
			}
			for _, tg := range targets {
				if tg != "" && !local[tg] {
					return fmt.Errorf("state %q goes to unknown %q", n.Name, tg)
				}
			}
			terminal := s.Type == "Succeed" || s.Type == "Fail" || s.Type == "Choice"
			if !terminal && (s.Next == "") == !s.End {
				return fmt.Errorf("state %q needs exactly one of Next or End", n.Name)
			}
			for _, b := range s.Branches {
				if err := scope(b.StartAt, b.States); err != nil {
					return err
				}
			}
			if s.ItemProcessor != nil {
				if err := scope(s.ItemProcessor.StartAt, s.ItemProcessor.States); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return scope(sm.StartAt, sm.States)
}

func TestStructural(t *testing.T) {
	for _, name := range Examples {
		p, diags := builtin.CompileFiles("../../examples/"+name+".yaml", "")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if err := structural(p.JSON); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if structural([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"}}}`)) == nil {
		t.Error("structural missed an unknown Next")
	}
}
