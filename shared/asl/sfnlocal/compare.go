package sfnlocal

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
)

// SameJSON reports whether a and b are the same JSON value (key order and
// number spelling aside).
func SameJSON(a, b json.RawMessage) (bool, error) {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		return false, fmt.Errorf("first value: %w", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false, fmt.Errorf("second value: %w", err)
	}
	return reflect.DeepEqual(x, y), nil
}

// CompareSteps checks that want and got entered the same states lane by
// lane: in the same order within a lane, or as the same multiset in lanes
// under a nested Map ("#?"), whose iterations interleave. It returns a
// description of the differences, or "".
func CompareSteps(want, got []Step) string {
	wl, gl := lanes(want), lanes(got)
	names := map[string]bool{}
	for k := range wl {
		names[k] = true
	}
	for k := range gl {
		names[k] = true
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var diffs []string
	for _, k := range keys {
		w, g := wl[k], gl[k]
		if strings.Contains(k, "#?") {
			w, g = slices.Sorted(slices.Values(w)), slices.Sorted(slices.Values(g))
		}
		if !slices.Equal(w, g) {
			label := k
			if label == "" {
				label = "(top level)"
			}
			diffs = append(diffs, fmt.Sprintf("lane %s: want %v, got %v", label, w, g))
		}
	}
	return strings.Join(diffs, "\n")
}

func lanes(steps []Step) map[string][]string {
	m := map[string][]string{}
	for _, s := range steps {
		m[s.Lane] = append(m[s.Lane], s.State)
	}
	return m
}

// Compare describes how b differs from a (outputs, failure names and
// steps), or returns "". Causes are not compared: aws-local-stepfunctions
// words them differently.
func Compare(a, b Result) string {
	var diffs []string
	switch {
	case a.Error != b.Error:
		diffs = append(diffs, fmt.Sprintf("error: %q (%s) vs %q (%s)", a.Error, a.Cause, b.Error, b.Cause))
	case a.Error == "":
		same, err := SameJSON(a.Output, b.Output)
		if err != nil || !same {
			diffs = append(diffs, fmt.Sprintf("output:\n  %s\nvs\n  %s", a.Output, b.Output))
		}
	}
	if d := CompareSteps(a.Steps, b.Steps); d != "" {
		diffs = append(diffs, "entered states:\n"+d)
	}
	return strings.Join(diffs, "\n")
}

// CrossCheck runs definition with the in-process interpreter and with
// aws-local-stepfunctions (skipping or failing t as Require does), each
// with a fresh invoker from newInvoker, and fails t if they disagree on
// the output, the failure name or the states entered per lane.
func CrossCheck(t testing.TB, definition []byte, input json.RawMessage, newInvoker func() interp.Invoker) (goRes, nodeRes Result) {
	t.Helper()
	Require(t)
	goRes, _ = RunGo(t, definition, input, newInvoker())
	nodeRes, _ = Run(t, definition, input, newInvoker())
	if d := Compare(goRes, nodeRes); d != "" {
		t.Errorf("interp (first) and aws-local-stepfunctions (second) disagree:\n%s", d)
	}
	return goRes, nodeRes
}

// Check is one execution for CrossCheckAll.
type Check struct {
	Name       string
	Definition []byte
	Input      json.RawMessage
	NewInvoker func() interp.Invoker // called once per interpreter
}

// Checked is the outcome of a Check: both results and their differences
// ("" when they agree).
type Checked struct {
	Check
	Go, Node Result
	Diff     string
}

// CrossCheckAll is CrossCheck for many executions, run in one Node
// process; it reports differences instead of failing t.
func CrossCheckAll(t testing.TB, checks []Check, opts Options) []Checked {
	t.Helper()
	Require(t)
	jobs := make([]Job, len(checks))
	out := make([]Checked, len(checks))
	for i, c := range checks {
		jobs[i] = Job{Definition: c.Definition, Input: c.Input, Invoker: c.NewInvoker()}
		out[i].Check = c
		out[i].Go, _ = RunGo(t, c.Definition, c.Input, c.NewInvoker())
	}
	for i, r := range RunJobs(t, jobs, opts) {
		out[i].Node = r.Result
		out[i].Diff = Compare(out[i].Go, out[i].Node)
	}
	return out
}
