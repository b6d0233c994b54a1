package builtin

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/template"
)

// Checkers returns the condition and template checkers the compiler uses.
func Checkers() compile.Checkers {
	return compile.Checkers{
		Condition:     checkCondition,
		TestCondition: checkTestCondition,
		TestRule:      testRule,
		Template:      checkTemplate,
	}
}

func checkCondition(r campaign.Reporter, path string, cond *condition.Condition, s campaign.Schema, p *compile.Program) {
	condition.Check(r, path, cond, condition.CheckEnv{Catalog: p.Catalog, Schema: s, Params: condition.ParamTypes(p.Campaign.Parameters),
		Variables: p.Campaign.Variables, Audiences: p.Audiences, Mode: condition.PopulationMode})
}

func checkTestCondition(r campaign.Reporter, path string, cond *condition.Condition, p *compile.Program) *condition.Checked {
	return condition.Check(r, path, cond, condition.CheckEnv{Catalog: p.Catalog, Params: condition.ParamTypes(p.Campaign.Parameters),
		Variables: p.Campaign.Variables, Audiences: p.Audiences, Mode: condition.TestMode,
		Count: func(t campaign.Transition) error { return portExists(p, t) }})
}

// portExists checks a `count: activity[.port]` fact.
func portExists(p *compile.Program, t campaign.Transition) error {
	ports, ok := p.Ports[t.Activity]
	if !ok {
		return fmt.Errorf("unknown activity %q%s", t.Activity, campaign.DidYouMean(t.Activity, p.Campaign.ActivityIDs()))
	}
	for _, port := range ports {
		if port == t.PortOrOut() {
			return nil
		}
	}
	return fmt.Errorf("activity %q has no port %q%s", t.Activity, t.PortOrOut(), campaign.DidYouMean(t.PortOrOut(), ports))
}

func testRule(cond *condition.Checked, p *compile.Program, countPath func(activityID, port string) (string, bool)) (asl.ChoiceRule, error) {
	loc, err := campaign.LoadLocation(p.Campaign.Timezone)
	if err != nil {
		return asl.ChoiceRule{}, err
	}
	return cond.ToChoice(condition.FactPaths{
		Count: func(t campaign.Transition) (string, error) {
			if err := portExists(p, t); err != nil {
				return "", err
			}
			path, ok := countPath(t.Activity, t.Port)
			if !ok {
				return "", fmt.Errorf("activity %q does not run before this test", t.Activity)
			}
			return path, nil
		},
		ParamTypes: condition.ParamTypes(p.Campaign.Parameters), Variables: p.Campaign.Variables, Location: loc,
	})
}

// checkTemplate parses a Liquid template (inline, or "file:<path>" from the
// bundle) and checks the names it reads against the recipient schema,
// parameters and variables. HTML parts are parsed with auto-escaping.
func checkTemplate(r campaign.Reporter, path, source string, recipient campaign.Schema, p *compile.Program) {
	name, where := path, ""
	if f, ok := strings.CutPrefix(source, "file:"); ok {
		where = f + " "
		data, found := p.Files[f]
		if !found {
			return // the missing file is reported by the compiler
		}
		source, name = string(data), f
	}
	t, err := template.Parse(source, template.Options{HTML: strings.Contains(path, "html"), Name: name})
	if err != nil {
		r.Errorf(path, "template does not parse: %v", err)
		return
	}
	if len(recipient.Columns) == 0 {
		return // unknown schema: reported upstream
	}
	for _, e := range template.Check(t, template.CampaignScope(p.Campaign, recipient)) {
		r.Errorf(path, "%sline %d: %s", where, e.Line, e.Msg)
	}
}
