package sfnlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
)

// Fixture is a hand-written state machine (testdata/NAME.asl.json) with
// its cases (testdata/NAME.cases.json).
type Fixture struct {
	Name       string
	Definition []byte
	Cases      []Case
}

// Case is one input and its expected outcome, written from the ASL spec.
type Case struct {
	Name    string          `json:"name"`
	Input   json.RawMessage `json:"input"`
	Output  json.RawMessage `json:"output"`  // when the execution succeeds
	Error   string          `json:"error"`   // when it fails
	Cause   string          `json:"cause"`   // checked by the Go tests when set
	Entered []string        `json:"entered"` // Step.String forms
}

// WantSteps parses Entered.
func (c Case) WantSteps() []Step {
	out := make([]Step, len(c.Entered))
	for i, s := range c.Entered {
		out[i] = ParseStep(s)
	}
	return out
}

// LoadFixtures reads every *.asl.json in dir with its cases file.
func LoadFixtures(dir string) ([]Fixture, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.asl.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var out []Fixture
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".asl.json")
		def, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f := Fixture{Name: name, Definition: def}
		cases, err := os.ReadFile(filepath.Join(dir, name+".cases.json"))
		if err != nil {
			return nil, fmt.Errorf("fixture %s: %w", name, err)
		}
		if err := json.Unmarshal(cases, &f.Cases); err != nil {
			return nil, fmt.Errorf("fixture %s: cases: %w", name, err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no *.asl.json fixtures in %s", dir)
	}
	return out, nil
}

// Throttled is the error the fixture function "flaky" fails with; its ASL
// name is the Go type name, "Throttled", as with aws-lambda-go.
type Throttled struct{ Msg string }

func (e *Throttled) Error() string { return e.Msg }

// FixtureInvoker returns a fresh invoker for the fixtures. It picks a
// function by the last ":"-separated part of the resource ARN:
//
//	echo   returns its input
//	add    {"a","b"} -> {"sum": a+b}
//	greet  {"name"} -> {"greeting": "Hello, NAME!", "length": runes in NAME}; a bare string works too
//	score  {"value"} -> {"score": value*10, "tier": "gold" if value > 5 else "basic"}
//	flaky  fails with *Throttled on its first two calls, then {"ok": true, "attempt": n}
//	boom   always fails with error name "Permanent"
func FixtureInvoker() interp.Invoker {
	var (
		mu    sync.Mutex
		flaky int
	)
	return interp.InvokerFunc(func(ctx context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
		fn := resource[strings.LastIndexByte(resource, ':')+1:]
		switch fn {
		case "echo":
			return in, nil
		case "add":
			var a struct{ A, B float64 }
			if err := json.Unmarshal(in, &a); err != nil {
				return nil, err
			}
			return json.Marshal(map[string]float64{"sum": a.A + a.B})
		case "greet":
			var name string
			if json.Unmarshal(in, &name) != nil {
				var a struct{ Name string }
				if err := json.Unmarshal(in, &a); err != nil {
					return nil, err
				}
				name = a.Name
			}
			return json.Marshal(map[string]any{"greeting": "Hello, " + name + "!", "length": utf8.RuneCountInString(name)})
		case "score":
			var a struct{ Value float64 }
			if err := json.Unmarshal(in, &a); err != nil {
				return nil, err
			}
			tier := "basic"
			if a.Value > 5 {
				tier = "gold"
			}
			return json.Marshal(map[string]any{"score": a.Value * 10, "tier": tier})
		case "flaky":
			mu.Lock()
			flaky++
			n := flaky
			mu.Unlock()
			if n <= 2 {
				return nil, &Throttled{Msg: fmt.Sprintf("throttled on call %d", n)}
			}
			return json.Marshal(map[string]any{"ok": true, "attempt": n})
		case "boom":
			return nil, &interp.Failure{Name: "Permanent", Cause: "boom"}
		}
		return nil, &interp.Failure{Name: "Lambda.ResourceNotFoundException", Cause: "Function not found: " + resource}
	})
}
