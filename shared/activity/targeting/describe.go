package targeting

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Plain-words describers of the targeting types (what the console shows).

func describeBuildAudience(c *campaign.Campaign, _ *campaign.Activity, x *BuildAudienceConfig) []string {
	dim := x.Dimension
	if dim == "" && c != nil {
		dim = c.Dimension
	}
	dim = capital(dim)
	if x.Where == nil {
		return []string{"All " + dim + "."}
	}
	out := []string{dim + " where " + x.Where.Describe() + "."}
	if x.EmptyOutput != nil && !*x.EmptyOutput {
		out = append(out, "Nothing goes on when no row matches.")
	}
	return out
}

func describeDedup(_ *campaign.Campaign, _ *campaign.Activity, x *DedupConfig) []string {
	s := "Keep " + count(x.KeepN()) + " per " + and(x.By)
	if x.KeepN() == 0 {
		s = "Keep every row (grouped by " + and(x.By) + ")"
	}
	switch x.Method {
	case "random", "":
		if len(x.OrderBy) > 0 {
			s += ", " + orders(x.OrderBy)
		} else {
			s += ", chosen at random"
		}
	case "first":
		s += ", " + orders(x.OrderBy)
	case "nonEmpty":
		s += ", preferring a non-empty " + x.Field
	case "values":
		var vs []string
		for _, v := range x.Values {
			vs = append(vs, fmt.Sprint(v))
		}
		s += ", preferring " + x.Field + " " + strings.Join(vs, ", then ")
	}
	out := []string{s + "."}
	if x.Complement {
		out = append(out, "The other rows go to duplicates.")
	}
	return out
}

func describeSplit(_ *campaign.Campaign, _ *campaign.Activity, x *SplitConfig) []string {
	var out []string
	for _, s := range x.Segments {
		line := "Segment " + s.Name
		if s.Code != "" {
			line += " (code " + s.Code + ")"
		}
		line += ": "
		if s.Where != nil {
			line += "rows where " + s.Where.Describe()
		} else {
			line += "any row"
		}
		if l := s.Limit; l != nil {
			switch {
			case l.Count != nil:
				line += fmt.Sprintf(", at most %d", *l.Count)
			case l.Percent != nil:
				line += fmt.Sprintf(", %g%%", *l.Percent)
			}
			if l.Random {
				line += " at random"
			} else if len(l.OrderBy) > 0 {
				line += ", " + orders(l.OrderBy) + " first"
			}
		}
		if s.SkipEmpty {
			line += "; not activated when empty"
		}
		out = append(out, line+".")
	}
	if x.Overlap {
		out = append(out, "A row may be in several segments.")
	} else {
		out = append(out, "A row goes to the first segment it fits.")
	}
	if x.Others {
		out = append(out, "Everyone else goes to others.")
	}
	return out
}

func describeSaveAudience(_ *campaign.Campaign, _ *campaign.Activity, x *SaveAudienceConfig) []string {
	s := "Save the input as a new version of the audience " + x.Audience
	if len(x.Fields) > 0 {
		s += ", with " + and(x.Fields)
	}
	return []string{s + "."}
}

func describeReadAudience(_ *campaign.Campaign, _ *campaign.Activity, x *ReadAudienceConfig) []string {
	return []string{"The current version of the saved audience " + x.Audience + "."}
}

func describeIncrementalQuery(c *campaign.Campaign, a *campaign.Activity, x *IncrementalQueryConfig) []string {
	out := describeBuildAudience(c, a, &BuildAudienceConfig{Dimension: x.Dimension, Where: x.Where})
	switch s := x.Since; {
	case s.Field != "":
		out = append(out, "Only those whose "+s.Field+" is later than the latest one returned by earlier runs (all of them on the first run).")
	case s.ExcludePrevious:
		line := "Only those not returned by an earlier run"
		if s.HistoryDays > 0 {
			line += " in the last " + condition.Span(fmt.Sprintf("%dd", s.HistoryDays))
		}
		out = append(out, line+".")
	}
	return out
}

func describeChangeDimension(_ *campaign.Campaign, _ *campaign.Activity, x *ChangeDimensionConfig) []string {
	s := "The " + x.To + " linked to the input through " + x.Via
	if x.Keep == "first" {
		s += ", each once"
	} else {
		s += ", once per input row linked to them"
	}
	return []string{s + "."}
}

func describeCombine(_ *campaign.Campaign, a *campaign.Activity, x *CombineConfig) []string {
	ins := inputs(a)
	var s string
	switch x.Operation {
	case "union":
		s = "Keep the rows found in any of " + orList(ins) + ", each once"
	case "intersection":
		if len(ins) == 2 {
			s = "Keep the rows found in both " + and(ins)
		} else {
			s = "Keep the rows found in all of " + and(ins)
		}
	case "exclusion":
		first, rest := "the first input", "the others"
		if len(ins) > 0 {
			first, rest = ins[0], orList(ins[1:])
		}
		s = "Keep the rows of " + first + " not found in " + rest
	default:
		s = "Combine " + and(ins) + " (" + x.Operation + ")"
	}
	if len(x.Key) > 0 {
		s += ", matched on " + and(x.Key)
	}
	out := []string{s + "."}
	if x.Complement {
		switch x.Operation {
		case "intersection":
			out = append(out, "The rows not found in all of them go to complement.")
		case "exclusion":
			out = append(out, "The rows left out go to complement.")
		}
	}
	return out
}

func describeEnrichment(_ *campaign.Campaign, _ *campaign.Activity, x *EnrichmentConfig) []string {
	var out []string
	for _, a := range x.Add {
		var what string
		switch {
		case a.Join != "":
			var on []string
			for _, k := range campaign.SortedKeys(a.On) {
				on = append(on, k+" = "+a.On[k])
			}
			what = a.Field + " of the matching row of " + a.Join
			if len(on) > 0 {
				what += " (" + and(on) + ")"
			}
		case a.Link != "" && a.Aggregate != "":
			what = condition.Aggregate(a.Aggregate, a.Link, a.Field, a.Where)
		case a.Link != "" && a.Collect > 0:
			what = "the first " + count(a.Collect) + " " + a.Link
			if a.Where != nil {
				what += " where " + a.Where.Describe()
			}
			if len(a.OrderBy) > 0 {
				what += ", " + orders(a.OrderBy) + " first"
			}
			if len(a.Fields) > 0 {
				what += " (" + and(a.Fields) + ")"
			}
			last := ""
			if len(a.Fields) > 0 {
				last = a.Fields[len(a.Fields)-1]
			}
			out = append(out, "Add to each row: "+what+", as "+CollectColumn(a.Name, 1, first(a.Fields))+" to "+CollectColumn(a.Name, a.Collect, last)+".")
			continue
		default:
			what = a.Field
		}
		out = append(out, "Add to each row: "+what+", as "+a.Name+".")
	}
	return out
}

func describeReconciliation(c *campaign.Campaign, _ *campaign.Activity, x *ReconciliationConfig) []string {
	dim := x.Dimension
	if dim == "" && c != nil {
		dim = c.Dimension
	}
	var out []string
	if len(x.Match) > 0 {
		var pairs []string
		for _, m := range x.Match {
			pairs = append(pairs, "the file's "+m.Input+" to "+dim+"."+m.Field)
		}
		out = append(out, "Match "+and(pairs)+".")
	}
	if x.Where != nil {
		out = append(out, "Match the "+dim+" where "+x.Where.Describe()+" (a field named as a value is the file's).")
	}
	if x.KeepUnmatched {
		out = append(out, "Rows matching no "+dim+" row, or several, go to unmatched.")
	} else {
		out = append(out, "Rows matching no "+dim+" row, or several, are dropped.")
	}
	return out
}

// inputs names an activity's inbound transitions: "lapsed", "byValue.vip".
func inputs(a *campaign.Activity) []string {
	if a == nil {
		return nil
	}
	var out []string
	for _, t := range a.From {
		out = append(out, t.String())
	}
	return out
}

func first(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return items[0]
}

func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// orders says an orderBy list: "the highest spend365, then the lowest age".
func orders(o []activity.Order) string {
	if len(o) == 0 {
		return "any of them"
	}
	var parts []string
	for _, x := range o {
		if x.Desc {
			parts = append(parts, "the highest "+x.Field)
		} else {
			parts = append(parts, "the lowest "+x.Field)
		}
	}
	return strings.Join(parts, ", then ")
}

func count(n int) string {
	words := []string{"none", "one", "two", "three", "four", "five"}
	if n >= 0 && n < len(words) {
		return words[n]
	}
	return fmt.Sprint(n)
}

func and(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func capital(s string) string {
	if s == "" {
		return "Rows"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
