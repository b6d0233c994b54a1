package activity

import (
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Lowerer is what a spec's Lower sees: a builder for the states of one
// activity. The compiler adds the skip check before them and routes failures.
type Lowerer interface {
	Activity() *campaign.Activity
	// ResultPath is where the activity's Result must be written, e.g. "$.r.lapsed".
	ResultPath() string
	// InputPaths returns the JSONPaths of the ref and the count carried by
	// each inbound transition, in `from` order.
	InputPaths() []PortPaths
	// PortPaths returns the JSONPaths of another activity's port.
	PortPaths(t campaign.Transition) PortPaths
	// Name returns a unique state name for a helper state ("" is the entry).
	Name(suffix string) string
	// Add appends a state. The first state added is the entry.
	Add(name string, st *asl.State)
	// Next is the state to continue with when the activity is done.
	Next() string
	// Task returns a standard Task state invoking the spec's Function with a
	// Request (phase and extra Parameters merged in), Retry and Catch wired,
	// and ResultPath set to ResultPath(). Next is left empty.
	Task(phase string, extra map[string]any) *asl.State
	// Catch returns the catchers that route an error of a custom state
	// (Parallel, Map) to the failure path.
	Catch() []asl.Catcher
	// ResultParameters builds Pass Parameters producing a Result: each port
	// maps to a JSONPath of a ref (or "" for an inactive port) and a JSONPath
	// of its count.
	ResultParameters(status string, ports map[string]PortPaths) map[string]any
	// RunPath is the JSONPath of the RunInfo, e.g. "$.run".
	RunPath() string
	// TestRule lowers a test-activity condition on run facts to a Choice rule.
	TestRule(cond *condition.Condition) (asl.ChoiceRule, error)
	// Function returns the Resource placeholder of a run-level or activity
	// function, e.g. "${AlertFunctionArn}".
	Function(name string) string
	// Campaign and Catalog give access to compile-time values (variables).
	Campaign() *campaign.Campaign
	Catalog() *campaign.Catalog
}

// PortPaths are the JSONPaths of a port's ref and count.
type PortPaths struct {
	Ref   string
	Count string
}

// Activated is a Choice rule true when the port whose ref is at path was
// activated. It is written Not(IsNull: true): aws-local-stepfunctions never
// matches IsNull: false.
func Activated(path, next string) asl.ChoiceRule {
	return asl.ChoiceRule{Not: &asl.ChoiceRule{Variable: path, IsNull: asl.Bool(true)}, Next: next}
}
