// Package flow holds the flow-control activity types: fork, and-join, test,
// wait, alert, end and scheduler. Most lower to pure ASL (Pass, Choice, Wait).
package flow

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Register adds the flow types to r.
func Register(r *activity.Registry) {
	r.Register(Fork, AndJoin, Test, Wait, Alert, End, Scheduler)
}

// ForkConfig copies a population onto named branches.
type ForkConfig struct {
	Branches []string `json:"branches" jsonschema:"required"`
}

// Fork is the fork type.
var Fork = &activity.Spec{
	Type: "fork", Family: activity.Flow,
	Summary:   "Sends the population down several branches at once.",
	NewConfig: func() any { return &ForkConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     func(cfg any) []string { return cfg.(*ForkConfig).Branches },
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*ForkConfig)
		if len(x.Branches) < 2 {
			c.Errorf(c.Path("branches"), "fork needs at least two branches")
		}
		checkPortNames(c, x.Branches, c.Path("branches"))
	},
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		return sameOnAll(cfg.(*ForkConfig).Branches, in)
	},
	Lower: func(l activity.Lowerer, cfg any) error {
		in := l.InputPaths()[0]
		ports := map[string]activity.PortPaths{}
		for _, b := range cfg.(*ForkConfig).Branches {
			ports[b] = in
		}
		l.Add(l.Name(""), pass(l, ports))
		return nil
	},
}

// AndJoinConfig waits for several branches and continues with one population.
type AndJoinConfig struct {
	Primary string `json:"primary,omitempty" jsonschema:"description=inbound activity whose population continues; default the first"`
}

// AndJoin is the and-join type.
var AndJoin = &activity.Spec{
	Type: "and-join", Family: activity.Flow,
	Summary:   "Continues once every inbound branch is done.",
	NewConfig: func() any { return &AndJoinConfig{} },
	Inputs:    activity.Inputs{Min: 2},
	Ports:     activity.Out,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*AndJoinConfig)
		if x.Primary != "" && primaryIndex(c.Activity, x.Primary) < 0 {
			c.Errorf(c.Path("primary"), "primary %q is not an inbound activity of this and-join", x.Primary)
		}
	},
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		i := max(primaryIndex(c.Activity, cfg.(*AndJoinConfig).Primary), 0)
		if i < len(in) {
			return map[string]campaign.Schema{"out": in[i]}
		}
		return map[string]campaign.Schema{"out": {}}
	},
	// The primary population continues; if its branch was not activated, the
	// first activated inbound population does.
	Lower: func(l activity.Lowerer, cfg any) error {
		inputs := l.InputPaths()
		first := max(primaryIndex(l.Activity(), cfg.(*AndJoinConfig).Primary), 0)
		order := []int{first}
		for i := range inputs {
			if i != first {
				order = append(order, i)
			}
		}
		choice := &asl.State{Type: "Choice"}
		l.Add(l.Name(""), choice)
		for _, i := range order {
			name := l.Name(fmt.Sprintf("take%d", i))
			choice.Choices = append(choice.Choices, activity.Activated(inputs[i].Ref, name))
			l.Add(name, pass(l, map[string]activity.PortPaths{"out": inputs[i]}))
		}
		choice.Default = l.Name(fmt.Sprintf("take%d", first))
		return nil
	},
}

func primaryIndex(a *campaign.Activity, primary string) int {
	if primary == "" {
		return 0
	}
	for i, t := range a.From {
		if t.Activity == primary {
			return i
		}
	}
	return -1
}

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

func testPorts(cfg any) []string {
	x := cfg.(*TestConfig)
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
var Test = &activity.Spec{
	Type: "test", Family: activity.Flow,
	Summary:   "Takes the first branch whose condition on run facts holds.",
	NewConfig: func() any { return &TestConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     testPorts,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*TestConfig)
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
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		return sameOnAll(testPorts(cfg), in)
	},
	Lower: func(l activity.Lowerer, cfg any) error {
		x := cfg.(*TestConfig)
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
}

// WaitUntil is a fixed time or {param: name}.
type WaitUntil struct {
	Time  string
	Param string
}

// DecodeNode implements campaign.NodeDecoder.
func (w *WaitUntil) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		w.Time = n.Value
		return
	}
	var ref struct {
		Param string `json:"param" jsonschema:"required"`
	}
	d.Decode(n, path, &ref)
	w.Param = ref.Param
}

// WaitConfig pauses a branch for a duration or until a time.
type WaitConfig struct {
	Duration string     `json:"duration,omitempty" jsonschema:"description=e.g. 72h, 3d"`
	Until    *WaitUntil `json:"until,omitempty"`
}

// MaxWait is the longest wait: work tables expire after 5 days.
const MaxWait = 5 * 24 * time.Hour

// Wait is the wait type.
var Wait = &activity.Spec{
	Type: "wait", Family: activity.Flow,
	Summary:   "Waits for a duration or until a time, then passes the population on.",
	NewConfig: func() any { return &WaitConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     activity.Out,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*WaitConfig)
		if (x.Duration == "") == (x.Until == nil) {
			c.Errorf(c.Path(), "wait needs exactly one of duration or until")
		}
		if x.Duration != "" {
			if d, err := campaign.ParseDuration(x.Duration); err != nil {
				c.Errorf(c.Path("duration"), "%v", err)
			} else if d > MaxWait {
				c.Errorf(c.Path("duration"), "wait %s is longer than %s: populations expire after 5 days", x.Duration, "5d")
			}
		}
		if u := x.Until; u != nil {
			if u.Param != "" {
				p, ok := c.Campaign.Parameters[u.Param]
				if !ok {
					c.Errorf(c.Path("until", "param"), "parameter %q is not declared", u.Param)
				} else if p.Type != campaign.TypeTimestamp && p.Type != campaign.TypeDate {
					c.Errorf(c.Path("until", "param"), "parameter %q must be a timestamp or date to wait until it", u.Param)
				}
			} else if _, err := untilTime(c.Campaign, u.Time); err != nil {
				c.Errorf(c.Path("until"), "%v", err)
			}
		}
	},
	Output: activity.SameInput("out"),
	Lower: func(l activity.Lowerer, cfg any) error {
		x := cfg.(*WaitConfig)
		w := &asl.State{Type: "Wait", Next: l.Name("done")}
		switch {
		case x.Duration != "":
			d, err := campaign.ParseDuration(x.Duration)
			if err != nil {
				return err
			}
			w.Seconds = asl.Int(int(d / time.Second))
		case x.Until.Param != "":
			// StartRun normalizes timestamp parameters to RFC 3339 UTC.
			w.TimestampPath = l.RunPath() + ".params." + x.Until.Param
		default:
			t, err := untilTime(l.Campaign(), x.Until.Time)
			if err != nil {
				return err
			}
			w.Timestamp = t.UTC().Format(time.RFC3339)
		}
		l.Add(l.Name(""), w)
		l.Add(l.Name("done"), pass(l, map[string]activity.PortPaths{"out": l.InputPaths()[0]}))
		return nil
	},
}

func untilTime(c *campaign.Campaign, s string) (time.Time, error) {
	loc, err := campaign.LoadLocation(c.Timezone)
	if err != nil {
		loc = time.UTC
	}
	t, _, err := campaign.ParseTime(s, loc)
	return t, err
}

// AlertConfig notifies the campaign's operators.
type AlertConfig struct {
	Title   string `json:"title" jsonschema:"required"`
	Message string `json:"message,omitempty"`
}

// Alert is the alert type.
var Alert = &activity.Spec{
	Type: "alert", Family: activity.Flow, Function: "Alert",
	Summary:   "Records an alert for the campaign's operators and passes the population on.",
	NewConfig: func() any { return &AlertConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     activity.Out,
	Output:    activity.SameInput("out"),
}

// Trigger starts another campaign when a branch ends.
type Trigger struct {
	Campaign   string                      `json:"campaign" jsonschema:"required"`
	Parameters map[string]*condition.Value `json:"parameters,omitempty"`
}

// EndConfig ends a branch, optionally signalling another campaign.
type EndConfig struct {
	Trigger *Trigger `json:"trigger,omitempty"`
}

// End is the end type.
var End = &activity.Spec{
	Type: "end", Family: activity.Flow, Function: "End",
	Summary:   "Ends a branch; may trigger another campaign with parameters.",
	NewConfig: func() any { return &EndConfig{} },
	Inputs:    activity.Inputs{Min: 1},
	Ports:     func(any) []string { return nil },
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*EndConfig)
		if x.Trigger == nil {
			return
		}
		if !campaign.ValidCampaignID(x.Trigger.Campaign) {
			c.Errorf(c.Path("trigger", "campaign"), "campaign id %q must match [a-z0-9-]{1,64}", x.Trigger.Campaign)
		}
		for _, k := range campaign.SortedKeys(x.Trigger.Parameters) {
			v := x.Trigger.Parameters[k]
			vp := c.Path("trigger", "parameters", k)
			if v.Param != "" {
				if _, ok := c.Campaign.Parameters[v.Param]; !ok {
					c.Errorf(campaign.JoinPath(vp, "param"), "parameter %q is not declared", v.Param)
				}
			}
			if v.Variable != "" {
				if _, ok := c.Campaign.Variables[v.Variable]; !ok {
					c.Errorf(campaign.JoinPath(vp, "variable"), "variable %q is not declared", v.Variable)
				}
			}
			if v.Field != "" {
				c.Errorf(vp, "a trigger parameter takes a literal, param or variable, not a field")
			}
		}
	},
	Output: func(*activity.Check, any, []campaign.Schema) map[string]campaign.Schema { return nil },
	Lower: func(l activity.Lowerer, cfg any) error {
		if cfg.(*EndConfig).Trigger != nil {
			st := l.Task("", nil)
			st.Next = l.Next()
			l.Add(l.Name(""), st)
			return nil
		}
		l.Add(l.Name(""), pass(l, nil))
		return nil
	},
}

// SchedulerConfig is the campaign schedule written as a first activity.
type SchedulerConfig struct {
	campaign.Schedule
}

// AsSchedule returns the schedule the compiler lifts into the campaign.
func (s *SchedulerConfig) AsSchedule() campaign.Schedule { return s.Schedule }

// Scheduler is the scheduler type; the compiler lifts it into the campaign schedule.
var Scheduler = &activity.Spec{
	Type: "scheduler", Family: activity.Flow,
	Summary:   "Starts the campaign on a schedule (same as the campaign's schedule).",
	NewConfig: func() any { return &SchedulerConfig{} },
	Inputs:    activity.Inputs{Max: -1},
	Ports:     activity.Out,
	Output: func(c *activity.Check, _ any, _ []campaign.Schema) map[string]campaign.Schema {
		return map[string]campaign.Schema{"out": {Dimension: c.Dimension}}
	},
	Lower: func(l activity.Lowerer, _ any) error {
		// The out port is activated with an empty ref: an event, no population.
		st := &asl.State{Type: "Pass", ResultPath: asl.Path(l.ResultPath()), Next: l.Next(),
			Result: map[string]any{"status": activity.StatusSucceeded, "ports": map[string]any{"out": ""}, "counts": map[string]any{"out": 0}}}
		l.Add(l.Name(""), st)
		return nil
	},
}

func pass(l activity.Lowerer, ports map[string]activity.PortPaths) *asl.State {
	return &asl.State{Type: "Pass", Parameters: l.ResultParameters(activity.StatusSucceeded, ports), ResultPath: asl.Path(l.ResultPath()), Next: l.Next()}
}

func sameOnAll(ports []string, in []campaign.Schema) map[string]campaign.Schema {
	out := map[string]campaign.Schema{}
	for _, p := range ports {
		if len(in) > 0 {
			out[p] = in[0]
		}
	}
	return out
}

func checkPortNames(c *activity.Check, names []string, path string) {
	seen := map[string]bool{}
	for i, n := range names {
		p := campaign.JoinPath(path, i)
		if !campaign.ValidPortName(n) {
			c.Errorf(p, "port name %q must match [a-zA-Z0-9_]{1,64}", n)
		}
		if seen[n] {
			c.Errorf(p, "duplicate port %q", n)
		}
		seen[n] = true
	}
}
