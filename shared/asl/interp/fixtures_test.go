package interp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
)

// TestFixtures runs the hand-written fixtures (testdata/*.asl.json) with
// the interpreter and checks the expectations in testdata/*.cases.json.
// sfnlocal's cross-check runs the same cases with aws-local-stepfunctions.
func TestFixtures(t *testing.T) {
	fixtures, err := sfnlocal.LoadFixtures("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fixtures {
		m, err := interp.Compile(f.Definition)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, c := range f.Cases {
			t.Run(f.Name+"/"+c.Name, func(t *testing.T) {
				var (
					mu    sync.Mutex
					steps []sfnlocal.Step
				)
				out, err := m.Run(context.Background(), c.Input, interp.Options{
					Invoker: sfnlocal.FixtureInvoker(),
					Wait:    interp.WaitSkip,
					Listener: func(e interp.Event) {
						if e.Type == interp.StateEntered {
							mu.Lock()
							steps = append(steps, sfnlocal.Step{Lane: laneOf(e.Path), State: e.State})
							mu.Unlock()
						}
					},
				})
				var f *interp.Failure
				switch {
				case c.Error != "":
					if !errors.As(err, &f) || f.Name != c.Error {
						t.Fatalf("err %v, want %s", err, c.Error)
					}
					if c.Cause != "" && f.Cause != c.Cause {
						t.Errorf("cause %q, want %q", f.Cause, c.Cause)
					}
				case err != nil:
					t.Fatal(err)
				default:
					if same, err := sfnlocal.SameJSON(c.Output, out); err != nil || !same {
						t.Errorf("output %s, want %s", out, c.Output)
					}
				}
				if d := sfnlocal.CompareSteps(c.WantSteps(), steps); d != "" {
					t.Errorf("entered states:\n%s", d)
				}
			})
		}
	}
}

// laneOf renders a path as sfnlocal does: Map iterations inside another
// Map iteration get index "?".
func laneOf(p interp.Path) string {
	var parts []string
	seenMap := false
	for _, e := range p {
		switch {
		case e.Index < 0:
			parts = append(parts, fmt.Sprintf("%s[%d]", e.State, e.Branch))
		case seenMap:
			parts = append(parts, e.State+"#?")
		default:
			parts = append(parts, fmt.Sprintf("%s#%d", e.State, e.Index))
			seenMap = true
		}
	}
	return strings.Join(parts, "/")
}

// noop answers every Task with an empty object.
type noop struct{}

func (noop) Invoke(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{"ok":true}`), nil
}

// chain200 is a 200-state chain of Task states.
func chain200() []byte {
	var b strings.Builder
	b.WriteString(`{"StartAt":"S0","States":{`)
	for i := 0; i < 200; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"S%d":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:noop","Parameters":{"step":%d,"id.$":"$.id"},"ResultPath":"$.last",`, i, i)
		if i == 199 {
			b.WriteString(`"End":true}`)
		} else {
			fmt.Fprintf(&b, `"Next":"S%d"}`, i+1)
		}
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

// BenchmarkNoop200 runs a 200-Task chain with a no-op invoker (compile
// included).
func BenchmarkNoop200(b *testing.B) {
	def := chain200()
	input := json.RawMessage(`{"id":"r-1","recipients":[1,2,3]}`)
	for b.Loop() {
		out, err := interp.Run(context.Background(), def, input, interp.Options{Invoker: noop{}})
		if err != nil || len(out) == 0 {
			b.Fatal(err)
		}
	}
}

func TestNoop200(t *testing.T) {
	out, err := interp.Run(context.Background(), chain200(), json.RawMessage(`{"id":"r-1"}`), interp.Options{Invoker: noop{}})
	if err != nil || string(out) != `{"id":"r-1","last":{"ok":true}}` {
		t.Fatalf("output %s, %v", out, err)
	}
}
