package flow

import (
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// TestBranch is one condition of a test.
type TestBranch struct {
	Name string               `json:"name" jsonschema:"required"`
	When *condition.Condition `json:"when" jsonschema:"required"`
}

// TestConfig routes the population down the first branch whose condition holds.
type TestConfig struct {
	Conditions []TestBranch `json:"conditions" jsonschema:"required"`
	Else       *bool        `json:"else,omitempty" jsonschema:"description=port else when no condition holds (default true)"`
}

func (x *TestConfig) hasElse() bool { return x.Else == nil || *x.Else }

func testPorts(x *TestConfig) []string {
	var ports []string
	for _, b := range x.Conditions {
		ports = append(ports, b.Name)
	}
	if x.hasElse() {
		ports = append(ports, "else")
	}
	return ports
}

// Test is the test type.
var Test = activity.Define(activity.Def[TestConfig]{
	Type: "test", Family: activity.Flow,
	Summary: "Takes the first branch whose condition on run facts holds.",
	Inputs:  activity.Inputs{Min: 1, Max: 1},
	Ports:   testPorts,
	Describe: func(_ *campaign.Campaign, _ *campaign.Activity, x *TestConfig) []string {
		var out []string
		for _, b := range x.Conditions {
			out = append(out, "Goes to "+b.Name+" when "+b.When.Describe()+".")
		}
		if x.hasElse() {
			out = append(out, "Goes to else otherwise.")
		}
		return out
	},
	Check: func(c *activity.Check, x *TestConfig) {
		if len(x.Conditions) == 0 {
			c.Errorf(c.Path("conditions"), "test needs at least one condition")
		}
		var names []string
		for i, b := range x.Conditions {
			names = append(names, b.Name)
			if b.When != nil && c.TestCondition != nil {
				c.TestCondition(c.Path("conditions", i, "when"), b.When)
			}
		}
		checkPortNames(c, names, c.Path("conditions"))
	},
	Output: func(c *activity.Check, x *TestConfig, in []campaign.Schema) map[string]campaign.Schema {
		return sameOnAll(testPorts(x), in)
	},
	Lower: func(l activity.Lowerer, x *TestConfig) error {
		in := l.InputPaths()[0]
		choice := &asl.State{Type: "Choice"}
		l.Add(l.Name(""), choice)
		for _, b := range x.Conditions {
			rule, err := l.TestRule(b.When)
			if err != nil {
				return fmt.Errorf("condition %s: %w", b.Name, err)
			}
			rule.Next = l.Name(b.Name)
			choice.Choices = append(choice.Choices, rule)
			l.Add(rule.Next, pass(l, map[string]activity.PortPaths{b.Name: in}))
		}
		choice.Default = l.Name("else")
		if x.hasElse() {
			l.Add(choice.Default, pass(l, map[string]activity.PortPaths{"else": in}))
		} else {
			l.Add(choice.Default, pass(l, nil))
		}
		return nil
	},
})
