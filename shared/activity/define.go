package activity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Families of activity types.
const (
	Targeting = "targeting"
	Data      = "data"
	Flow      = "flow"
	Channel   = "channel"
)

// Def is the one definition of an activity type whose config is C: how it
// is decoded, checked, lowered to ASL and run. Define turns it into the
// registry's Spec; nothing else converts configs.
type Def[C any] struct {
	Type    string // kebab-case, as written in campaigns
	Family  string
	Summary string
	// Function is the Lambda (and in-process handler) name, e.g.
	// "BuildAudience". Empty for types lowered to pure ASL.
	Function string
	// Inputs says how many inbound transitions the type takes.
	Inputs Inputs
	// Ports lists the output ports of a config, in order. Nil: one port, out.
	Ports func(cfg *C) []string
	// Check validates the config against the catalog, the campaign and the
	// shapes of the inbound populations. It may be nil.
	Check func(c *Check, cfg *C)
	// Output returns the schema of each port given the inbound schemas. Nil:
	// no schema is known.
	Output func(c *Check, cfg *C, in []campaign.Schema) map[string]campaign.Schema
	// Lower emits the type's ASL. Nil means a standard Task invoking Function.
	Lower func(l Lowerer, cfg *C) error
	// Run runs the type's task. Nil for pure-ASL types.
	Run func(ctx context.Context, call *Call, cfg *C) (*Result, error)
	// Describe says what a config does in plain words, a sentence a line,
	// for people who do not read YAML (the console). c is the campaign (its
	// defaults) and a the activity (its inputs); either may be nil. Every
	// registered type has one (a test iterates the registry).
	Describe func(c *campaign.Campaign, a *campaign.Activity, cfg *C) []string
	// OnAthena: the type lowers itself to Athena when the catalog's engine
	// is athena (or auto picks it). A targeting or data type without it is
	// refused under engine: athena.
	OnAthena bool
}

// Spec is a registered activity type: a Def with its config type erased.
type Spec struct {
	Type, Family, Summary, Function string
	Inputs                          Inputs
	OnAthena                        bool

	newConfig func() any
	ports     func(cfg any) []string
	check     func(c *Check, cfg any)
	output    func(c *Check, cfg any, in []campaign.Schema) map[string]campaign.Schema
	lower     func(l Lowerer, cfg any) error
	run       func(ctx context.Context, call *Call, cfg any) (*Result, error)
	describe  func(c *campaign.Campaign, a *campaign.Activity, cfg any) []string
}

// Define makes the Spec of a definition. A config of another type than *C
// reaching it is a programming error and panics.
func Define[C any](d Def[C]) *Spec {
	s := &Spec{Type: d.Type, Family: d.Family, Summary: d.Summary, Function: d.Function, Inputs: d.Inputs, OnAthena: d.OnAthena,
		newConfig: func() any { return new(C) }}
	s.ports = func(cfg any) []string { return []string{"out"} }
	if d.Ports != nil {
		s.ports = func(cfg any) []string { return d.Ports(cfg.(*C)) }
	}
	if d.Check != nil {
		s.check = func(c *Check, cfg any) { d.Check(c, cfg.(*C)) }
	}
	if d.Output != nil {
		s.output = func(c *Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
			return d.Output(c, cfg.(*C), in)
		}
	}
	if d.Lower != nil {
		s.lower = func(l Lowerer, cfg any) error { return d.Lower(l, cfg.(*C)) }
	}
	if d.Run != nil {
		s.run = func(ctx context.Context, call *Call, cfg any) (*Result, error) { return d.Run(ctx, call, cfg.(*C)) }
	}
	if d.Describe != nil {
		s.describe = func(c *campaign.Campaign, a *campaign.Activity, cfg any) []string { return d.Describe(c, a, cfg.(*C)) }
	}
	return s
}

// NewConfig returns a pointer to a zero config; the decoder fills it strictly.
func (s *Spec) NewConfig() any { return s.newConfig() }

// DecodeConfig decodes a config from its JSON form (a runtime plan's).
func (s *Spec) DecodeConfig(data []byte) (any, error) {
	cfg := s.newConfig()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		return nil, fmt.Errorf("%s config: %w", s.Type, err)
	}
	return cfg, nil
}

// Ports lists the output ports of a decoded config, in order.
func (s *Spec) Ports(cfg any) []string { return s.ports(cfg) }

// Check validates a decoded config (see Def.Check).
func (s *Spec) Check(c *Check, cfg any) {
	if s.check != nil {
		s.check(c, cfg)
	}
}

// Output returns the port schemas of a config; ok is false when the type
// declares none.
func (s *Spec) Output(c *Check, cfg any, in []campaign.Schema) (out map[string]campaign.Schema, ok bool) {
	if s.output == nil {
		return nil, false
	}
	return s.output(c, cfg, in), true
}

// Lower emits the type's own states; ok is false for a standard Task.
func (s *Spec) Lower(l Lowerer, cfg any) (ok bool, err error) {
	if s.lower == nil {
		return false, nil
	}
	return true, s.lower(l, cfg)
}

// Describe says what a decoded config does in plain words; ok is false when
// the type has no describer. c is the campaign (its defaults) and a the
// activity (its inputs); either may be nil.
func (s *Spec) Describe(c *campaign.Campaign, a *campaign.Activity, cfg any) (lines []string, ok bool) {
	if s.describe == nil {
		return nil, false
	}
	return s.describe(c, a, cfg), true
}

// Runs reports whether the type has a task handler.
func (s *Spec) Runs() bool { return s.run != nil }

// Run runs the type's task on a decoded config.
func (s *Spec) Run(ctx context.Context, call *Call, cfg any) (*Result, error) {
	if s.run == nil {
		return nil, &InvalidInput{Msg: fmt.Sprintf("activity type %s has no handler", s.Type)}
	}
	return s.run(ctx, call, cfg)
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

// Fixed returns a Ports function for a fixed port list.
func Fixed[C any](ports ...string) func(*C) []string {
	return func(*C) []string { return ports }
}

// SameInput passes the first inbound schema through to every port.
func SameInput[C any](ports ...string) func(*Check, *C, []campaign.Schema) map[string]campaign.Schema {
	return func(_ *Check, _ *C, in []campaign.Schema) map[string]campaign.Schema {
		out := map[string]campaign.Schema{}
		var s campaign.Schema
		if len(in) > 0 {
			s = in[0]
		}
		for _, p := range ports {
			out[p] = s
		}
		return out
	}
}
