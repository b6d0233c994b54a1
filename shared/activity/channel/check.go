package channel

import (
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Limits of the format: a channel's rate and its sending window.
const (
	MinRate = 1
	MaxRate = 2000
	// MaxListedConcurrency bounds concurrency under engine athena, where a
	// distributed Map sends the slices (Step Functions allows 10,000 children
	// at once; Lambda's default account concurrency is 1,000).
	MaxListedConcurrency = 1000
	MaxWindow            = 12 * time.Hour
)

func check(c *activity.Check, k *Kind, x *Config) {
	typ := k.Type
	if x.Purpose != "" {
		c.OneOf(x.Purpose, c.Path("purpose"), "purpose", "marketing", "transactional")
	}
	in := c.Input(0)
	if t, ok := c.Catalog.Table(in.Dimension); ok {
		if t.Targeting == nil {
			c.Errorf(c.Path("from"), "%q is not a targeting dimension: it declares no targeting addresses", t.Name)
		} else if k.Address(t.Targeting) == "" {
			c.Errorf(c.Path("from"), "%q declares no %s address column (catalog targeting.%s)", t.Name, typ, typ)
		}
	} else if len(c.Inputs) > 0 {
		c.Errorf(c.Path("from"), "a %s activity needs a population of a targeting dimension, not %s (use reconciliation)", typ, in)
	}
	m := x.Message
	mp := c.Path("message")
	tmpl := func(field, src string) {
		if src != "" && c.Template != nil {
			c.Template(campaign.JoinPath(mp, field), src, in)
		}
	}
	content := func(field string, ct *Content) {
		if ct == nil {
			return
		}
		if ct.File != "" {
			if c.Template != nil {
				c.Template(campaign.JoinPath(campaign.JoinPath(mp, field), "file"), "file:"+ct.File, in)
			}
			return
		}
		tmpl(field, ct.Inline)
	}
	k.CheckMessage(c, &m, tmpl, content)
	if c.Activity.HasKey("rate") && (x.Rate < MinRate || x.Rate > MaxRate) {
		c.Errorf(c.Path("rate"), "rate %v is out of range: a channel sends %d to %d messages per second", x.Rate, MinRate, MaxRate)
	}
	if x.Window != "" {
		if d, err := campaign.ParseDuration(x.Window); err != nil {
			c.Errorf(c.Path("window"), "%v", err)
		} else if d <= 0 || d > MaxWindow {
			c.Errorf(c.Path("window"), "window %s is out of range: more than 0 and at most 12h (recipients not sent by then are skipped)", x.Window)
		}
	}
	if cp := x.Capping; cp != nil {
		if cp.Max < 1 {
			c.Errorf(c.Path("capping", "max"), "capping max must be 1 or more")
		}
		if d, err := campaign.ParseDuration(cp.Per); err != nil {
			c.Errorf(c.Path("capping", "per"), "%v", err)
		} else if d > 90*24*time.Hour {
			c.Errorf(c.Path("capping", "per"), "capping period is at most 90d")
		}
		if !x.Marketing() {
			c.Warnf(c.Path("capping"), "capping does not apply to transactional messages")
		}
	}
	if q := x.QuietHours; q != nil {
		for _, f := range []struct{ name, v string }{{"start", q.Start}, {"end", q.End}} {
			if _, err := ParseClock(f.v); err != nil {
				c.Errorf(c.Path("quietHours", f.name), "%v", err)
			}
		}
	}
	if e := x.Experiment; e != nil {
		if e.Holdout != "" {
			if p, err := ParsePercent(e.Holdout); err != nil || p < 0 || p >= 100 {
				c.Errorf(c.Path("experiment", "holdout"), "holdout must be a percentage below 100%%, e.g. 5%%")
			}
		}
		names := map[string]bool{}
		for i, v := range e.Variants {
			vp := c.Path("experiment", "variants", i)
			if names[v.Name] {
				c.Errorf(campaign.JoinPath(vp, "name"), "duplicate variant %q", v.Name)
			}
			names[v.Name] = true
			if v.Weight <= 0 {
				c.Errorf(campaign.JoinPath(vp, "weight"), "weight must be positive")
			}
			if v.Subject != "" {
				if c.Template != nil {
					c.Template(campaign.JoinPath(vp, "subject"), v.Subject, in)
				}
			}
			for _, f := range []struct {
				name string
				ct   *Content
			}{{"html", v.HTML}, {"text", v.Text}} {
				if f.ct != nil && c.Template != nil {
					src := f.ct.Inline
					if f.ct.File != "" {
						src = "file:" + f.ct.File
					}
					c.Template(campaign.JoinPath(vp, f.name), src, in)
				}
			}
		}
	}
	if x.MaxErrors < 0 {
		c.Errorf(c.Path("maxErrors"), "maxErrors must be positive")
	}
	// Under engine athena every slice a Map sends is listed (see
	// shouldList): a distributed Map runs them, so more may run at once.
	if x.SliceSize < 0 {
		c.Errorf(c.Path("sliceSize"), "sliceSize must be positive (recipients a slice sends; omit it for %d)", DefaultSliceSize)
	}
	if c.Catalog != nil && c.Catalog.Engine == campaign.EngineAthena && x.QuietHours == nil {
		if x.Concurrency < 0 || x.Concurrency > MaxListedConcurrency {
			c.Errorf(c.Path("concurrency"), "concurrency must be between 1 and %d (a distributed Map's children at once, within Lambda's default account concurrency)", MaxListedConcurrency)
		}
	} else if x.Concurrency < 0 || x.Concurrency > 40 {
		c.Errorf(c.Path("concurrency"), "concurrency must be between 1 and 40 (inline Map limit)")
	}
}

func unused(c *activity.Check, mp string, set map[string]bool) {
	for _, k := range campaign.SortedKeys(set) {
		if set[k] {
			c.Errorf(campaign.JoinPath(mp, k), "%s does not apply to this channel", k)
		}
	}
}

func checkEmail(c *activity.Check, m *Message, tmpl func(string, string), content func(string, *Content)) {
	mp := c.Path("message")
	if m.From == "" {
		c.Errorf(campaign.JoinPath(mp, "from"), "an email needs a from address")
	}
	if m.Subject == "" {
		c.Errorf(campaign.JoinPath(mp, "subject"), "an email needs a subject")
	}
	if m.HTML == nil && m.Text == nil {
		c.Errorf(mp, "an email needs html or text")
	}
	tmpl("subject", m.Subject)
	content("html", m.HTML)
	content("text", m.Text)
	unused(c, mp, map[string]bool{"sender": m.Sender != "", "title": m.Title != "", "body": m.Body != "", "data": m.Data != nil})
}

func checkSMS(c *activity.Check, m *Message, _ func(string, string), content func(string, *Content)) {
	mp := c.Path("message")
	if m.Text == nil {
		c.Errorf(campaign.JoinPath(mp, "text"), "an SMS needs text")
	}
	content("text", m.Text)
	unused(c, mp, map[string]bool{"from": m.From != "", "subject": m.Subject != "", "html": m.HTML != nil, "title": m.Title != "", "body": m.Body != ""})
}

func checkPush(c *activity.Check, m *Message, tmpl func(string, string), _ func(string, *Content)) {
	mp := c.Path("message")
	if m.Title == "" && m.Body == "" {
		c.Errorf(mp, "a push needs a title or a body")
	}
	tmpl("title", m.Title)
	tmpl("body", m.Body)
	for _, k := range campaign.SortedKeys(m.Data) {
		tmpl("data."+k, m.Data[k])
	}
	unused(c, mp, map[string]bool{"from": m.From != "", "subject": m.Subject != "", "html": m.HTML != nil, "text": m.Text != nil})
}

// ParseClock parses "HH:MM" into minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, &activity.InvalidInput{Msg: "invalid time of day " + strconv.Quote(s) + ": use HH:MM, e.g. 21:00"}
	}
	return hh*60 + mm, nil
}

// ParsePercent parses "5%" or "5".
func ParsePercent(s string) (float64, error) {
	return strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%")), 64)
}
