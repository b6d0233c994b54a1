package campaign

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	// Every binary that resolves a zone embeds the zone database: Lambda's
	// provided.al2023, slim containers and some laptops have none on disk.
	_ "time/tzdata"
)

// MinSchedulePeriod is the shortest period between two scheduled runs.
const MinSchedulePeriod = 15 * time.Minute

// LoadLocation loads an IANA zone; "" is UTC.
func LoadLocation(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	return time.LoadLocation(name)
}

// ParseDuration parses durations with units s m h d w, combined ("1d12h") or
// Go style ("90m", "1.5h").
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] >= '0' && rest[i] <= '9' || rest[i] == '.') {
			i++
		}
		if i == 0 || i == len(rest) {
			return 0, fmt.Errorf("invalid duration %q: use a number and a unit s, m, h, d or w (e.g. 90d, 12h, 15m)", s)
		}
		n, err := strconv.ParseFloat(rest[:i], 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[rest[i]]
		if unit == 0 {
			return 0, fmt.Errorf("invalid duration %q: unknown unit %q; valid: s, m, h, d, w", s, rest[i:i+1])
		}
		if n*float64(unit) > math.MaxInt64/2 {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += time.Duration(n * float64(unit))
		rest = rest[i+1:]
	}
	return total, nil
}

// ParseTime parses a date (YYYY-MM-DD) or a timestamp (RFC 3339, or without an
// offset in loc).
func ParseTime(s string, loc *time.Location) (t time.Time, dateOnly bool, err error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, true, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, false, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02 15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("invalid date or time %q: use YYYY-MM-DD or RFC 3339 such as 2026-01-31T09:00:00Z", s)
}

// CoerceParam checks v against a parameter type and returns its canonical JSON
// value (strings for date and timestamp, int64, float64, bool).
func CoerceParam(typ string, v any) (any, error) {
	switch typ {
	case TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case TypeInteger:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case float64:
			if n == math.Trunc(n) {
				return int64(n), nil
			}
		case string:
			if i, err := strconv.ParseInt(n, 10, 64); err == nil {
				return i, nil
			}
		}
	case TypeNumber:
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case float64:
			return n, nil
		case string:
			if f, err := strconv.ParseFloat(n, 64); err == nil {
				return f, nil
			}
		}
	case TypeBoolean:
		switch b := v.(type) {
		case bool:
			return b, nil
		case string:
			if pb, err := strconv.ParseBool(b); err == nil {
				return pb, nil
			}
		}
	case TypeDate, TypeTimestamp:
		if s, ok := v.(string); ok {
			if _, dateOnly, err := ParseTime(s, time.UTC); err == nil && (typ == TypeTimestamp || dateOnly) {
				return s, nil
			}
		}
		if t, ok := v.(time.Time); ok {
			if typ == TypeDate {
				return t.Format("2006-01-02"), nil
			}
			return t.Format(time.RFC3339), nil
		}
	}
	return nil, fmt.Errorf("%v is not a valid %s", v, typ)
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseCron parses a 5-field cron expression (or @daily style descriptor).
func ParseCron(expr string) (cron.Schedule, error) {
	return cronParser.Parse(expr)
}

// CronMinGap returns the shortest interval between firings of a cron schedule
// over a year, used to refuse schedules more frequent than every 15 minutes.
func CronMinGap(s cron.Schedule) time.Duration {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := t.AddDate(1, 0, 0)
	minGap := time.Duration(math.MaxInt64)
	prev := s.Next(t)
	for i := 0; i < 20000 && prev.Before(end) && !prev.IsZero(); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		if g := next.Sub(prev); g < minGap {
			minGap = g
		}
		prev = next
	}
	return minGap
}

// CheckScheduleInto validates the campaign schedule.
func (c *Campaign) CheckScheduleInto(r Reporter) {
	s := c.Schedule
	loc, err := LoadLocation(c.Timezone)
	if err != nil {
		loc = time.UTC
	}
	set := 0
	for _, v := range []string{s.Cron, s.Every, s.At} {
		if v != "" {
			set++
		}
	}
	if set != 1 {
		r.Errorf("schedule", "a schedule needs exactly one of cron, every or at (found %d)", set)
	}
	if s.Cron != "" {
		if cs, err := ParseCron(s.Cron); err != nil {
			r.Errorf("schedule.cron", "invalid cron expression %q: %v (use 5 fields: minute hour day-of-month month day-of-week)", s.Cron, err)
		} else if g := CronMinGap(cs); g < MinSchedulePeriod {
			r.Errorf("schedule.cron", "cron %q runs every %s; schedules must be at least %s apart", s.Cron, g, MinSchedulePeriod)
		}
	}
	if s.Every != "" {
		if d, err := ParseDuration(s.Every); err != nil {
			r.Errorf("schedule.every", "%v", err)
		} else if d < MinSchedulePeriod {
			r.Errorf("schedule.every", "every %s is too frequent; schedules must be at least %s apart", s.Every, MinSchedulePeriod)
		}
	}
	var from, until time.Time
	for _, f := range []struct {
		path, v string
		t       *time.Time
	}{{"schedule.at", s.At, nil}, {"schedule.from", s.From, &from}, {"schedule.until", s.Until, &until}} {
		if f.v == "" {
			continue
		}
		t, _, err := ParseTime(f.v, loc)
		if err != nil {
			r.Errorf(f.path, "%v", err)
		} else if f.t != nil {
			*f.t = t
		}
	}
	if !from.IsZero() && !until.IsZero() && !until.After(from) {
		r.Errorf("schedule.until", "until (%s) must be after from (%s)", s.Until, s.From)
	}
}
