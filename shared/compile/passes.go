package compile

import (
	"slices"
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Checkers validate the sub-languages (conditions, Liquid) during the types
// pass and lower test conditions; the activities package wires the real ones.
type Checkers struct {
	Condition     func(r campaign.Reporter, path string, cond *condition.Condition, s campaign.Schema, p *Program)
	TestCondition func(r campaign.Reporter, path string, cond *condition.Condition, p *Program) *condition.Checked
	Template      func(r campaign.Reporter, path, source string, recipient campaign.Schema, p *Program)
	// TestRule lowers a checked test condition; countPath gives the JSONPath
	// of the count of an activity's port ("" port means out).
	TestRule func(cond *condition.Checked, p *Program, countPath func(activityID, port string) (string, bool)) (asl.ChoiceRule, error)
}

func decodeConfigs(p *Program, r campaign.Reporter) {
	d := &campaign.Decoder{Reporter: r}
	types := p.Registry.Types()
	for i := range p.Campaign.Activities {
		a := &p.Campaign.Activities[i]
		if a.Type == "" {
			continue // reported missing by the decoder
		}
		spec, ok := p.Registry.Lookup(a.Type)
		if !ok {
			r.Errorf(campaign.JoinPath(a.Path(), "type"), "unknown activity type %q%s", a.Type, suggestType(a.Type, types))
			continue
		}
		cfg := spec.NewConfig()
		d.DecodeSkipping(a.Node, a.Path(), cfg, campaign.CommonKeys)
		a.Config = cfg
		p.Specs[a.ID] = spec
		p.Ports[a.ID] = spec.Ports(cfg)
	}
}

// checkDimension checks the campaign's default dimension once, at its own
// key; activities that inherit a wrong one report it there too (deduplicated).
func checkDimension(p *Program, r campaign.Reporter) {
	if d := p.Campaign.Dimension; d != "" {
		(&activity.Check{Reporter: r, Catalog: p.Catalog, Campaign: p.Campaign}).DimensionTable(d, "dimension")
	}
}

func suggestType(t string, types []string) string {
	if s := campaign.DidYouMean(t, types); s != "" {
		return s
	}
	return "; valid: " + strings.Join(types, ", ")
}

func liftScheduler(p *Program, r campaign.Reporter) {
	var found []*campaign.Activity
	for i := range p.Campaign.Activities {
		if a := &p.Campaign.Activities[i]; a.Type == "scheduler" && a.Config != nil {
			found = append(found, a)
		}
	}
	for i, a := range found {
		if len(a.From) > 0 {
			r.Errorf(campaign.JoinPath(a.Path(), "from"), "a scheduler starts the campaign: it takes no inbound transition")
		}
		if i > 0 {
			r.Errorf(a.Path(), "a campaign has at most one scheduler (the first is %q)", found[0].ID)
			continue
		}
		if p.Campaign.Schedule != nil {
			r.Errorf(a.Path(), "the campaign already has a schedule; remove the scheduler activity or the campaign schedule")
			continue
		}
		// The scheduler's fields are a Schedule; check them as the campaign's.
		sc := schedulerSchedule(a.Config)
		c := *p.Campaign
		c.Schedule = &sc
		var diags campaign.Diagnostics
		(&c).CheckScheduleInto(campaign.Reporter{Src: r.Src, Diags: &diags})
		for _, d := range diags {
			d.Path = strings.Replace(d.Path, "schedule", a.Path(), 1)
			d.Pos = r.Src.PosOf(d.Path)
			*r.Diags = append(*r.Diags, d)
		}
		p.Campaign.Schedule = &sc
	}
}

// schedulerSchedule extracts the embedded Schedule of a scheduler config.
func schedulerSchedule(cfg any) campaign.Schedule {
	type scheduled interface{ AsSchedule() campaign.Schedule }
	if s, ok := cfg.(scheduled); ok {
		return s.AsSchedule()
	}
	return campaign.Schedule{}
}

// checkGraph resolves transitions, checks input counts, finds cycles and
// unreachable activities, and computes a topological order.
func checkGraph(p *Program, r campaign.Reporter) {
	c := p.Campaign
	ids := c.ActivityIDs()
	valid := map[string]bool{}
	for i := range c.Activities {
		a := &c.Activities[i]
		spec := p.Specs[a.ID]
		valid[a.ID] = true
		for j, t := range a.From {
			fp := campaign.JoinPath(a.Path(), "from")
			if len(a.From) > 1 {
				fp = campaign.JoinPath(fp, j)
			}
			src, ok := c.Activity(t.Activity)
			if !ok {
				r.Errorf(fp, "from %q: unknown activity%s", t.String(), campaign.DidYouMean(t.Activity, ids))
				valid[a.ID] = false
				continue
			}
			if src.ID == a.ID {
				r.Errorf(fp, "activity %q cannot take its own output", a.ID)
				valid[a.ID] = false
				continue
			}
			ports, known := p.Ports[src.ID]
			if !known {
				continue // its type is unknown; already reported
			}
			if !contains(ports, t.PortOrOut()) {
				if len(ports) == 0 {
					r.Errorf(fp, "from %q: activity %q (%s) has no output port", t.String(), src.ID, src.Type)
				} else if t.Port == "" {
					r.Errorf(fp, "from %q: activity %q (%s) has no default port `out`; name one of its ports: %s", t.String(), src.ID, src.Type, portList(src.ID, ports))
				} else {
					r.Errorf(fp, "from %q: activity %q has no port %q%s; its ports: %s", t.String(), src.ID, t.Port, campaign.DidYouMean(t.Port, ports), portList(src.ID, ports))
				}
				valid[a.ID] = false
			}
		}
		if spec == nil {
			continue
		}
		n := len(a.From)
		switch {
		case spec.Inputs.Max < 0 && n > 0:
			// reported by the type (scheduler)
		case n < spec.Inputs.Min && n == 0:
			r.Errorf(a.Path(), "%s %q needs an inbound transition: add `from`", a.Type, a.ID)
		case n < spec.Inputs.Min:
			r.Errorf(campaign.JoinPath(a.Path(), "from"), "%s needs at least %d inbound transitions, got %d", a.Type, spec.Inputs.Min, n)
		case spec.Inputs.Max > 0 && n > spec.Inputs.Max:
			r.Errorf(campaign.JoinPath(a.Path(), "from"), "%s takes at most %d inbound transition(s), got %d", a.Type, spec.Inputs.Max, n)
		}
	}
	order, cycles := topoSort(c)
	for _, cyc := range cycles {
		first, _ := c.Activity(cyc[0])
		r.Errorf(campaign.JoinPath(first.Path(), "from"), "cycle: %s", strings.Join(append(cyc, cyc[0]), " → "))
	}
	// Reachable: every inbound activity is reachable and the transition valid.
	reach := map[string]bool{}
	for _, id := range order {
		a, _ := c.Activity(id)
		ok := valid[id]
		for _, t := range a.From {
			ok = ok && reach[t.Activity]
		}
		reach[id] = ok
	}
	for _, a := range c.Activities {
		if !reach[a.ID] && valid[a.ID] && a.ID != "" && !inCycle(cycles, a.ID) {
			r.Errorf(a.Path(), "activity %q is unreachable: an activity it depends on is in a cycle or invalid", a.ID)
		}
	}
	// Types are checked even around a cycle: an activity whose input is in
	// the cycle sees an unknown schema, which checks leniently.
	p.checkOrder = order
	if len(cycles) == 0 {
		p.Order = order
	}
}

func inCycle(cycles [][]string, id string) bool {
	for _, c := range cycles {
		if contains(c, id) {
			return true
		}
	}
	return false
}

func portList(id string, ports []string) string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = id + "." + p
	}
	return strings.Join(out, ", ")
}

// topoSort orders activities so that each comes after its inputs; ties keep
// file order. It also returns the cycles found, each once.
func topoSort(c *campaign.Campaign) (order []string, cycles [][]string) {
	index := map[string]int{}
	for i, a := range c.Activities {
		if _, dup := index[a.ID]; !dup {
			index[a.ID] = i
		}
	}
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var stack []string
	seen := map[string]bool{}
	var visit func(id string)
	visit = func(id string) {
		state[id] = 1
		stack = append(stack, id)
		a := &c.Activities[index[id]]
		for _, t := range a.From {
			if _, ok := index[t.Activity]; !ok || t.Activity == id {
				continue
			}
			switch state[t.Activity] {
			case 0:
				visit(t.Activity)
			case 1:
				i := len(stack) - 1
				for stack[i] != t.Activity {
					i--
				}
				// The stack runs against the edges (each activity, then one of
				// its inputs): reverse it so the cycle reads as data flows.
				cyc := append([]string(nil), stack[i:]...)
				slices.Reverse(cyc)
				cyc = rotateToFirst(cyc, index)
				key := canonicalCycle(cyc)
				if !seen[key] {
					seen[key] = true
					cycles = append(cycles, cyc)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = 2
		order = append(order, id)
	}
	for _, a := range c.Activities {
		if state[a.ID] == 0 && a.ID != "" {
			visit(a.ID)
		}
	}
	return order, cycles
}

// rotateToFirst starts a cycle at its activity first in file order, so the
// same cycle reads the same whichever activity the search entered it by.
func rotateToFirst(cyc []string, index map[string]int) []string {
	first := 0
	for i, id := range cyc {
		if index[id] < index[cyc[first]] {
			first = i
		}
	}
	return append(cyc[first:], cyc[:first]...)
}

func canonicalCycle(cyc []string) string {
	s := append([]string(nil), cyc...)
	sort.Strings(s)
	return strings.Join(s, "\x00")
}

// checkTypes runs each spec's Check with the schemas of its inputs, in
// topological order, and records the schema of every port.
func checkTypes(p *Program, r campaign.Reporter) {
	c := p.Campaign
	audiences := map[string]campaign.Schema{}
	p.Audiences = audiences
	byID := map[string][]*campaign.Activity{} // several when an id is duplicated
	for i := range c.Activities {
		a := &c.Activities[i]
		byID[a.ID] = append(byID[a.ID], a)
	}
	for _, id := range append(p.checkOrder, "") { // "": activities missing their id
		for _, a := range byID[id] {
			checkActivity(p, r, a, audiences)
		}
	}
}

// checkActivity runs an activity's Check with the schemas of its inputs and
// records the schemas of its ports.
func checkActivity(p *Program, r campaign.Reporter, a *campaign.Activity, audiences map[string]campaign.Schema) {
	c := p.Campaign
	spec, _ := p.Registry.Lookup(a.Type)
	if spec == nil || a.Config == nil {
		return
	}
	var inputs []campaign.Schema
	for _, t := range a.From {
		inputs = append(inputs, p.Schemas[t.Activity][t.PortOrOut()])
	}
	chk := &activity.Check{Reporter: r, Catalog: p.Catalog, Campaign: c, Activity: a, Inputs: inputs, Dimension: c.Dimension, Audiences: audiences}
	if p.Checkers.Condition != nil {
		chk.Condition = func(path string, cond *condition.Condition, s campaign.Schema) {
			p.Checkers.Condition(r, path, cond, s, p)
		}
	}
	if p.Checkers.TestCondition != nil {
		chk.TestCondition = func(path string, cond *condition.Condition) {
			if c := p.Checkers.TestCondition(r, path, cond, p); c != nil {
				p.checkedTests[cond] = c
			}
		}
	}
	if p.Checkers.Template != nil {
		chk.Template = func(path, src string, s campaign.Schema) { p.Checkers.Template(r, path, src, s, p) }
	}
	if spec.Inputs.SameDimension && len(inputs) > 1 {
		for j := 1; j < len(inputs); j++ {
			if inputs[j].Dimension != inputs[0].Dimension {
				r.Errorf(campaign.JoinPath(campaign.JoinPath(a.Path(), "from"), j), "inputs of %s must share one dimension: %s is %s, %s is %s",
					a.Type, a.From[0], inputs[0], a.From[j], inputs[j])
			}
		}
	}
	spec.Check(chk, a.Config)
	if p.Catalog.Engine == campaign.EngineAthena && (spec.Family == activity.Targeting || spec.Family == activity.Data) && !spec.OnAthena {
		r.Errorf(campaign.JoinPath(a.Path(), "type"), "activity %s (%s) is not yet on athena; set the catalog's engine to duckdb or auto", a.ID, a.Type)
	}
	out, ok := spec.Output(chk, a.Config, inputs)
	if !ok {
		out = map[string]campaign.Schema{}
	}
	p.Schemas[a.ID] = out
	if aud, ok := a.Config.(interface{ AudienceName() string }); ok {
		audiences[aud.AudienceName()] = out["out"]
	}
}

// planLevels groups activities into levels: an activity's level is one more than
// the highest level among its inputs.
func planLevels(p *Program, r campaign.Reporter) {
	if p.Order == nil {
		return
	}
	level := map[string]int{}
	maxLevel := -1
	for _, id := range p.Order {
		a, _ := p.Campaign.Activity(id)
		l := 0
		for _, t := range a.From {
			if lv, ok := level[t.Activity]; ok && lv+1 > l {
				l = lv + 1
			}
		}
		level[id] = l
		maxLevel = max(maxLevel, l)
	}
	p.Levels = make([][]string, maxLevel+1)
	for _, a := range p.Campaign.Activities { // file order inside a level
		if l, ok := level[a.ID]; ok && !containsLevel(p.Levels[l], a.ID) {
			p.Levels[l] = append(p.Levels[l], a.ID)
		}
	}
}

func containsLevel(l []string, id string) bool { return contains(l, id) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
