package publish

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
)

var descriptors = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

var dayNames = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"}

// Expression turns a campaign schedule into an EventBridge Scheduler expression:
// cron(...) with six fields, rate(...) or at(...). Times are in the schedule's zone
// (ScheduleExpressionTimezone).
func Expression(s state.Schedule) (string, error) {
	switch {
	case s.Cron != "":
		return awsCron(s.Cron)
	case s.Every != "":
		d, err := campaign.ParseDuration(s.Every)
		if err != nil {
			return "", err
		}
		return rate(d)
	case s.At != "":
		loc, err := campaign.LoadLocation(s.Timezone)
		if err != nil {
			return "", err
		}
		t, _, err := campaign.ParseTime(s.At, loc)
		if err != nil {
			return "", err
		}
		return "at(" + t.In(loc).Format("2006-01-02T15:04:05") + ")", nil
	}
	return "", fmt.Errorf("schedule has none of cron, every, at")
}

// awsCron converts a 5-field cron (minute hour day-of-month month day-of-week) to
// AWS's 6 fields, where one of the day fields must be `?` and days of week are 1-7
// from Sunday (names are used here).
func awsCron(expr string) (string, error) {
	if d, ok := descriptors[strings.TrimSpace(expr)]; ok {
		expr = d
	}
	f := strings.Fields(expr)
	if len(f) != 5 {
		return "", fmt.Errorf("cron %q: want 5 fields", expr)
	}
	min, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4]
	switch {
	case dow == "*" || dow == "?":
		dow = "?"
	case dom == "*" || dom == "?":
		dom = "?"
		var err error
		if dow, err = dayNamesOf(dow); err != nil {
			return "", fmt.Errorf("cron %q: %w", expr, err)
		}
	default:
		return "", fmt.Errorf("cron %q restricts both the day of month and the day of week, which EventBridge Scheduler cannot express", expr)
	}
	return fmt.Sprintf("cron(%s %s %s %s %s *)", min, hour, dom, month, dow), nil
}

// dayNamesOf writes day-of-week numbers (0-7, 0 and 7 Sunday) as names.
func dayNamesOf(dow string) (string, error) {
	var parts []string
	for _, item := range strings.Split(dow, ",") {
		rng, step, hasStep := strings.Cut(item, "/")
		var ends []string
		for _, e := range strings.Split(rng, "-") {
			if n, err := strconv.Atoi(e); err == nil {
				if n < 0 || n > 7 {
					return "", fmt.Errorf("day of week %d", n)
				}
				e = dayNames[n]
			} else if e != "*" {
				e = strings.ToUpper(e)
			}
			ends = append(ends, e)
		}
		p := strings.Join(ends, "-")
		if hasStep {
			p += "/" + step
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ","), nil
}

func rate(d time.Duration) (string, error) {
	if d < time.Minute || d%time.Minute != 0 {
		return "", fmt.Errorf("every %s: EventBridge Scheduler rates are whole minutes", d)
	}
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("rate(1 %s)", one)
		}
		return fmt.Sprintf("rate(%d %s)", n, many)
	}
	switch {
	case d%(24*time.Hour) == 0:
		return unit(int64(d/(24*time.Hour)), "day", "days"), nil
	case d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour", "hours"), nil
	}
	return unit(int64(d/time.Minute), "minute", "minutes"), nil
}
