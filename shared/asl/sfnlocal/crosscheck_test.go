package sfnlocal_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
)

// TestCrossCheckFixtures runs every fixture case with the Go interpreter
// and with aws-local-stepfunctions (one Node process for all) and requires
// the same outcome from both, matching the hand-written expectation.
func TestCrossCheckFixtures(t *testing.T) {
	sfnlocal.Require(t)
	fixtures, err := sfnlocal.LoadFixtures("../interp/testdata")
	if err != nil {
		t.Fatal(err)
	}
	var checks []sfnlocal.Check
	var cases []sfnlocal.Case
	for _, f := range fixtures {
		for _, c := range f.Cases {
			checks = append(checks, sfnlocal.Check{Name: f.Name + "/" + c.Name, Definition: f.Definition, Input: c.Input, NewInvoker: sfnlocal.FixtureInvoker})
			cases = append(cases, c)
		}
	}
	for i, r := range sfnlocal.CrossCheckAll(t, checks, sfnlocal.Options{}) {
		c := cases[i]
		t.Run(r.Name, func(t *testing.T) {
			if r.Diff != "" {
				t.Errorf("interp (first) and aws-local-stepfunctions (second) disagree:\n%s", r.Diff)
			}
			for _, x := range []struct {
				who string
				res sfnlocal.Result
			}{{"interp", r.Go}, {"aws-local-stepfunctions", r.Node}} {
				if x.res.Error != c.Error {
					t.Errorf("%s: error %q (%s), want %q", x.who, x.res.Error, x.res.Cause, c.Error)
				}
				if c.Error == "" {
					if same, err := sfnlocal.SameJSON(c.Output, x.res.Output); err != nil || !same {
						t.Errorf("%s: output %s, want %s", x.who, x.res.Output, c.Output)
					}
				}
				if d := sfnlocal.CompareSteps(c.WantSteps(), x.res.Steps); d != "" {
					t.Errorf("%s: entered states differ from the expectation:\n%s", x.who, d)
				}
			}
		})
	}
}

// TestCrossCheckSingle exercises the one-execution helpers.
func TestCrossCheckSingle(t *testing.T) {
	def := []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:add","ResultPath":"$.r","End":true}}}`)
	goRes, nodeRes := sfnlocal.CrossCheck(t, def, json.RawMessage(`{"a":1,"b":2}`), sfnlocal.FixtureInvoker)
	want := json.RawMessage(`{"a":1,"b":2,"r":{"sum":3}}`)
	for _, r := range []sfnlocal.Result{goRes, nodeRes} {
		if same, _ := sfnlocal.SameJSON(want, r.Output); !same {
			t.Errorf("output %s, want %s", r.Output, want)
		}
		if len(r.Entered) != 1 || r.Entered[0] != "T" {
			t.Errorf("entered %v, want [T]", r.Entered)
		}
	}
	// An unknown function fails the execution with the invoker's error.
	bad := []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:nope","End":true}}}`)
	_, err := sfnlocal.Run(t, bad, nil, sfnlocal.FixtureInvoker())
	var f *interp.Failure
	if !errors.As(err, &f) || f.Name != "Lambda.ResourceNotFoundException" {
		t.Errorf("err = %v, want Lambda.ResourceNotFoundException", err)
	}
}

// TestCompareDetectsDifferences makes sure the comparison can fail.
func TestCompareDetectsDifferences(t *testing.T) {
	base := sfnlocal.Result{Output: json.RawMessage(`{"a":1}`), Steps: []sfnlocal.Step{{State: "A"}, {Lane: "P[0]", State: "X"}, {Lane: "P[1]", State: "Y"}}}
	tests := []struct {
		name  string
		other sfnlocal.Result
		same  bool
	}{
		{"identical", base, true},
		{"key order and branch interleaving do not matter", sfnlocal.Result{Output: json.RawMessage(`{ "a" : 1.0 }`), Steps: []sfnlocal.Step{{State: "A"}, {Lane: "P[1]", State: "Y"}, {Lane: "P[0]", State: "X"}}}, true},
		{"output", sfnlocal.Result{Output: json.RawMessage(`{"a":2}`), Steps: base.Steps}, false},
		{"error", sfnlocal.Result{Error: "States.Runtime", Steps: base.Steps}, false},
		{"missing step", sfnlocal.Result{Output: base.Output, Steps: base.Steps[:2]}, false},
		{"order within a lane", sfnlocal.Result{Output: base.Output, Steps: []sfnlocal.Step{{Lane: "P[0]", State: "X"}, {State: "A"}, {Lane: "P[1]", State: "Y"}}}, true},
		{"wrong lane", sfnlocal.Result{Output: base.Output, Steps: []sfnlocal.Step{{State: "A"}, {Lane: "P[1]", State: "X"}, {Lane: "P[1]", State: "Y"}}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := sfnlocal.Compare(base, tt.other)
			if (d == "") != tt.same {
				t.Errorf("Compare: same=%v, want %v (diff %q)", d == "", tt.same, d)
			}
		})
	}
	two := []sfnlocal.Step{{State: "A"}, {State: "B"}}
	if sfnlocal.CompareSteps(two, []sfnlocal.Step{{State: "B"}, {State: "A"}}) == "" {
		t.Error("top-level order must matter")
	}
	nested := []sfnlocal.Step{{Lane: "M#0/N#?", State: "S1"}, {Lane: "M#0/N#?", State: "S2"}}
	if sfnlocal.CompareSteps(nested, []sfnlocal.Step{nested[1], nested[0]}) != "" {
		t.Error("nested Map lanes compare as multisets")
	}
}
