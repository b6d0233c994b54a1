package flow

import (
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Plain-words describers of the flow types (what the console shows).

func describeWait(_ *campaign.Campaign, _ *campaign.Activity, x *WaitConfig) []string {
	switch {
	case x.Duration != "":
		return []string{"Wait " + condition.Span(x.Duration) + ", then pass the input on."}
	case x.Until != nil && x.Until.Param != "":
		return []string{"Wait until the time in the parameter " + x.Until.Param + ", then pass the input on."}
	case x.Until != nil:
		return []string{"Wait until " + x.Until.Time + ", then pass the input on."}
	}
	return []string{"Pass the input on."}
}

func describeFork(_ *campaign.Campaign, _ *campaign.Activity, x *ForkConfig) []string {
	return []string{"Send the whole input down each of " + and(x.Branches) + " at once."}
}

func describeAndJoin(_ *campaign.Campaign, a *campaign.Activity, x *AndJoinConfig) []string {
	var ins []string
	if a != nil {
		for _, t := range a.From {
			ins = append(ins, t.String())
		}
	}
	out := []string{"Wait until " + and(ins) + " are all done."}
	primary := x.Primary
	if primary == "" && len(ins) > 0 {
		primary = a.From[0].Activity
	}
	if primary != "" {
		out = append(out, "Then go on with the rows of "+primary+" (or, if its branch did not run, of the first one that did).")
	}
	return out
}

func describeAlert(_ *campaign.Campaign, _ *campaign.Activity, x *AlertConfig) []string {
	out := []string{"Alert the campaign's operators: '" + x.Title + "'."}
	if m := strings.Join(strings.Fields(x.Message), " "); m != "" {
		out = append(out, "Message: "+m)
	}
	return append(out, "Then pass the input on.")
}

func describeEnd(_ *campaign.Campaign, _ *campaign.Activity, x *EndConfig) []string {
	if x.Trigger == nil {
		return []string{"End this branch."}
	}
	s := "End this branch and start the campaign " + x.Trigger.Campaign
	var ps []string
	for _, k := range campaign.SortedKeys(x.Trigger.Parameters) {
		ps = append(ps, k+" = "+x.Trigger.Parameters[k].Describe())
	}
	if len(ps) > 0 {
		s += " with " + and(ps)
	}
	return []string{s + "."}
}

func describeScheduler(c *campaign.Campaign, _ *campaign.Activity, x *SchedulerConfig) []string {
	var s string
	switch sc := x.Schedule; {
	case sc.Cron != "":
		s = "Start the campaign on the schedule " + sc.Cron + " (cron)"
	case sc.Every != "":
		s = "Start the campaign every " + condition.Span(sc.Every)
	case sc.At != "":
		s = "Start the campaign once, at " + sc.At
	default:
		s = "Start the campaign"
	}
	if x.From != "" {
		s += ", from " + x.From
	}
	if x.Until != "" {
		s += ", until " + x.Until
	}
	if c != nil && c.Timezone != "" {
		s += ", " + c.Timezone + " time"
	}
	return []string{s + "."}
}

func and(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
