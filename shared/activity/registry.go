// Package activity is the contract of activity types: one definition per
// type (Def, made a Spec by Define: config, ports, check, lowering, task),
// the registry the compiler, the hosts and the Lambda mains read (no code
// switches over activity types), and what a task sees (Request, Call, Env,
// the runtime plan as Compiled) and returns (Result, named errors).
package activity

import (
	"fmt"
	"sort"
)

// Registry maps activity types to specs.
type Registry struct {
	specs      map[string]*Spec
	byFunction map[string]*Spec
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{specs: map[string]*Spec{}, byFunction: map[string]*Spec{}}
}

// Register adds specs; registering a type twice panics (a programming error).
func (r *Registry) Register(specs ...*Spec) {
	for _, s := range specs {
		if _, dup := r.specs[s.Type]; dup {
			panic(fmt.Sprintf("activity type %q registered twice", s.Type))
		}
		if s.newConfig == nil {
			panic(fmt.Sprintf("activity type %q is not made by Define", s.Type))
		}
		if s.Function != "" {
			if o, dup := r.byFunction[s.Function]; dup {
				panic(fmt.Sprintf("activity types %q and %q share function %s", o.Type, s.Type, s.Function))
			}
			r.byFunction[s.Function] = s
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
	s, ok := r.byFunction[name]
	return s, ok
}
