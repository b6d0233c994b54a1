package channel

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/condition"
)

// describe says a channel activity in plain words (what the console shows):
// "Email 'Subject…' to the input", then its limits.
func describe(k *Kind, x *Config) []string {
	m := x.Message
	what := map[string]string{"email": "Email", "sms": "SMS", "push": "Push notification"}[k.Type]
	if what == "" {
		what = k.Type
	}
	quote := func(s string) string {
		s = strings.Join(strings.Fields(s), " ")
		if r := []rune(s); len(r) > 120 {
			s = string(r[:119]) + "…"
		}
		return "'" + s + "'"
	}
	switch {
	case m.Subject != "":
		what += " " + quote(m.Subject)
	case m.Title != "":
		what += " " + quote(m.Title)
	case m.Text != nil && m.Text.Inline != "":
		what += " " + quote(m.Text.Inline)
	case m.Body != "":
		what += " " + quote(m.Body)
	}
	out := []string{what + " to the input."}
	if m.From != "" {
		out = append(out, "From "+m.From+".")
	}
	if m.HTML != nil && m.HTML.File != "" {
		out = append(out, "HTML from the file "+m.HTML.File+".")
	}
	if x.Marketing() {
		out = append(out, "Marketing: only to recipients who consent, with an unsubscribe link.")
	} else {
		out = append(out, "Transactional: consent and caps do not apply.")
	}
	if x.Confirm {
		out = append(out, "Held until someone confirms the send.")
	}
	if x.Rate > 0 {
		out = append(out, fmt.Sprintf("At most %g messages a second.", x.Rate))
	}
	if c := x.Capping; c != nil {
		out = append(out, fmt.Sprintf("At most %d messages a recipient every %s, across campaigns.", c.Max, condition.Span(c.Per)))
	}
	if q := x.QuietHours; q != nil {
		out = append(out, "Not sent between "+q.Start+" and "+q.End+" in the recipient's time zone (quiet hours).")
	}
	if x.Window != "" {
		out = append(out, "Recipients not reached within "+condition.Span(x.Window)+" are skipped.")
	}
	if e := x.Experiment; e != nil {
		var arms []string
		for _, v := range e.Variants {
			arms = append(arms, fmt.Sprintf("%s (weight %g)", v.Name, v.Weight))
		}
		s := "Experiment: variants " + strings.Join(arms, ", ")
		if e.Holdout != "" {
			s += "; " + e.Holdout + " held out"
		}
		out = append(out, s+".")
	}
	return out
}
