package channel

import (
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// quiet is a daily window of minutes after midnight [start, end) in a
// recipient's time zone; start > end spans midnight (21:00–08:00).
type quiet struct{ start, end int }

func newQuiet(q *QuietHours) *quiet {
	if q == nil {
		return nil
	}
	s, err1 := ParseClock(q.Start)
	e, err2 := ParseClock(q.End)
	if err1 != nil || err2 != nil || s == e {
		return nil
	}
	return &quiet{s, e}
}

// in reports whether t falls in the quiet hours of loc.
func (q *quiet) in(t time.Time, loc *time.Location) bool {
	if q == nil {
		return false
	}
	l := t.In(loc)
	m := l.Hour()*60 + l.Minute()
	if q.start < q.end {
		return m >= q.start && m < q.end
	}
	return m >= q.start || m < q.end
}

// opens returns the first instant at or after t outside the quiet hours of
// loc: t itself when t is not quiet, else the next local q.end.
func (q *quiet) opens(t time.Time, loc *time.Location) time.Time {
	if !q.in(t, loc) {
		return t
	}
	l := t.In(loc)
	for d := 0; d < 3; d++ {
		c := time.Date(l.Year(), l.Month(), l.Day()+d, q.end/60, q.end%60, 0, 0, loc)
		if c.After(t) && !q.in(c, loc) {
			return c
		}
	}
	return t.Add(24 * time.Hour) // unreachable: a window shorter than a day always opens
}

// location resolves a recipient time zone, falling back to def for an empty
// or unknown name.
func location(name string, def *time.Location, cache map[string]*time.Location) *time.Location {
	name = strings.TrimSpace(name)
	if name == "" {
		return def
	}
	if l, ok := cache[name]; ok {
		return l
	}
	l, err := campaign.LoadLocation(name)
	if err != nil {
		l = def
	}
	cache[name] = l
	return l
}

// unit maps (run, recipient, salt) to [0, 1) deterministically: FNV-1a
// with a splitmix64 finalizer, stable across processes and versions.
func unit(run, key, salt string) float64 {
	h := fnv.New64a()
	h.Write([]byte(run))
	h.Write([]byte{0})
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(salt))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// assignment is an experiment's decision for one recipient.
type assignment struct {
	holdout bool
	variant int // index in Experiment.Variants, -1 for none
}

// assign decides holdout and variant from a hash of run id and recipient
// key: the same on every attempt, independent across runs.
func assign(e *Experiment, run, key string) assignment {
	if e == nil {
		return assignment{variant: -1}
	}
	if e.Holdout != "" {
		if p, err := ParsePercent(e.Holdout); err == nil && unit(run, key, "holdout")*100 < p {
			return assignment{holdout: true, variant: -1}
		}
	}
	total := 0.0
	for _, v := range e.Variants {
		total += math.Max(v.Weight, 0)
	}
	if total <= 0 {
		return assignment{variant: -1}
	}
	u := unit(run, key, "variant") * total
	for i, v := range e.Variants {
		u -= math.Max(v.Weight, 0)
		if u < 0 {
			return assignment{variant: i}
		}
	}
	return assignment{variant: len(e.Variants) - 1}
}
