package targeting

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Plain-words describers of the targeting types (what the console shows).

func describeBuildAudience(c *campaign.Campaign, x *BuildAudienceConfig) []string {
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

func describeDedup(_ *campaign.Campaign, x *DedupConfig) []string {
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

func describeSplit(_ *campaign.Campaign, x *SplitConfig) []string {
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

func describeSaveAudience(_ *campaign.Campaign, x *SaveAudienceConfig) []string {
	s := "Save the input as a new version of the audience " + x.Audience
	if len(x.Fields) > 0 {
		s += ", with " + and(x.Fields)
	}
	return []string{s + "."}
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
