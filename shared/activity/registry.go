// Package activity is the registry of activity types. Each type registers one
// Spec that the validator, the compiler, the local executor and the Lambda
// mains all read: no code switches over activity types.
package activity

import (
	"fmt"
	"sort"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Families of activity types.
const (
	Targeting = "targeting"
	Data      = "data"
	Flow      = "flow"
	Channel   = "channel"
)

// Spec describes one activity type.
type Spec struct {
	Type    string // kebab-case, as written in campaigns
	Family  string
	Summary string

	// NewConfig returns a pointer to a zero config; the decoder fills it strictly.
	NewConfig func() any
	// Inputs says how many inbound transitions the type takes.
	Inputs Inputs
	// Ports lists the output ports for a decoded config, in order.
	Ports func(cfg any) []string
	// Check validates the config against the catalog, the campaign and the
	// shapes of the inbound populations. It may be nil.
	Check func(c *Check, cfg any)
	// Output returns the schema of each port given the inbound schemas.
	Output func(c *Check, cfg any, in []campaign.Schema) map[string]campaign.Schema
	// Lower emits the type's ASL. Nil means a standard Task invoking Function.
	Lower func(l Lowerer, cfg any) error
	// Function is the Lambda (and in-process handler) name, e.g. "BuildAudience".
	// Empty for types lowered to pure ASL.
	Function string
	// Handler runs the type's task. Nil for pure-ASL types.
	Handler Handler
}

// Inputs constrains inbound transitions.
type Inputs struct {
	Min, Max int // Max 0 means unbounded
	// ReadsOwnData: the type reads its data itself and ignores inbound
	// populations (they only order it after another activity).
	ReadsOwnData bool
	// SameDimension: all inbound populations must share one dimension.
	SameDimension bool
}

// Registry maps activity types to specs.
type Registry struct {
	specs map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{specs: map[string]*Spec{}} }

// Register adds specs; registering a type twice panics (a programming error).
func (r *Registry) Register(specs ...*Spec) {
	for _, s := range specs {
		if _, dup := r.specs[s.Type]; dup {
			panic(fmt.Sprintf("activity type %q registered twice", s.Type))
		}
		if s.NewConfig == nil || s.Ports == nil {
			panic(fmt.Sprintf("activity type %q needs NewConfig and Ports", s.Type))
		}
		r.specs[s.Type] = s
	}
}

// Lookup returns the spec of a type.
func (r *Registry) Lookup(typ string) (*Spec, bool) {
	s, ok := r.specs[typ]
	return s, ok
}

// Types lists registered types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.specs))
	for t := range r.specs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ByFunction returns the spec whose Function is name.
func (r *Registry) ByFunction(name string) (*Spec, bool) {
	for _, t := range r.Types() {
		if s := r.specs[t]; s.Function == name {
			return s, true
		}
	}
	return nil, false
}

// Check is what a spec's Check and Output see.
type Check struct {
	campaign.Reporter
	Catalog  *campaign.Catalog
	Campaign *campaign.Campaign
	Activity *campaign.Activity
	// Inputs are the schemas of the inbound populations, in `from` order
	// (nil entries for transitions whose schema is unknown).
	Inputs []campaign.Schema
	// Dimension is the activity's default dimension (the campaign's).
	Dimension string
	// Audiences known to exist (saved by this campaign), for read-audience.
	Audiences map[string]campaign.Schema
	// Condition checks a condition against a population schema (set by the compiler).
	Condition func(path string, cond *condition.Condition, s campaign.Schema)
	// TestCondition checks a test-activity condition on run facts.
	TestCondition func(path string, cond *condition.Condition)
	// Template checks a Liquid template and the names it uses against the
	// recipient schema (set by the compiler).
	Template func(path, source string, recipient campaign.Schema)
}

// CheckCondition checks cond when a checker is configured.
func (c *Check) CheckCondition(path string, cond *condition.Condition, s campaign.Schema) {
	if cond != nil && c.Condition != nil {
		c.Condition(path, cond, s)
	}
}

// Path returns the diagnostic path of a config field of the activity.
func (c *Check) Path(elems ...any) string {
	p := c.Activity.Path()
	for _, e := range elems {
		p = campaign.JoinPath(p, e)
	}
	return p
}
