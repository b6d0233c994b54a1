package condition

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// DateOps are the operators of date windows, in documentation order:
// `{field, op, within}` on a date or timestamp field.
var DateOps = []string{"anniversary", "inLast", "inNext"}

// DateParts lists the values of `part`.
var DateParts = []string{"year", "month", "day", "weekday"}

// Bounds of `within`, in days. An anniversary window is shorter than a year,
// so it holds at most one anniversary of a date.
const (
	MaxAnniversaryDays = 364
	MaxWindowDays      = 3660
)

var (
	partOps    = []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "between"}
	weekdayOps = []string{"eq", "ne", "in", "notIn"}
)

// dateCond checks a field condition with part, within or a date operator.
// subj and ref are the field's (ref nil: the columns are unknown).
func (k *checker) dateCond(path string, c *Condition, subj subjectInfo, ref *FieldRef, sc scope) Node {
	opPath := campaign.JoinPath(path, "op")
	if ref != nil && !isTime(subj.typ) {
		what := "op " + c.Op
		if c.Part != "" {
			what = "part"
		} else if c.Within != "" && !contains(DateOps, c.Op) {
			what = "within"
		}
		k.errorf(campaign.JoinPath(path, "field"), "%s needs a date or timestamp field; %s is not one", what, subj.desc)
		return nil
	}
	if c.Part != "" {
		if contains(DateOps, c.Op) {
			k.errorf(opPath, "%s compares a whole date, not a part: remove part, or compare the part with eq, in, between...", c.Op)
			return nil
		}
		if c.Within != "" {
			k.errorf(campaign.JoinPath(path, "within"), "within is used with op anniversary, inLast or inNext, not with part")
		}
		return k.datePart(path, c, ref, sc)
	}
	if c.Op == "" {
		k.errorf(path, "missing op; with within use %s", strings.Join(DateOps, ", "))
		return nil
	}
	if !contains(DateOps, c.Op) {
		k.errorf(campaign.JoinPath(path, "within"), "within is used with op %s, not with %s", strings.Join(DateOps, ", "), c.Op)
		return nil
	}
	if c.Value != nil {
		k.errorf(campaign.JoinPath(path, "value"), "%s takes no value; the window is within, e.g. within: 7d", c.Op)
	}
	days, ok := k.within(path, c)
	if !ok || ref == nil {
		return nil
	}
	return &DateWindow{Field: ref, Op: c.Op, Days: days, Zone: zoneRef(sc)}
}

// within checks the window of a date operator, in whole days; path is the
// condition's.
func (k *checker) within(condPath string, c *Condition) (int, bool) {
	path := campaign.JoinPath(condPath, "within")
	limit := MaxWindowDays
	if c.Op == "anniversary" {
		limit = MaxAnniversaryDays
		if c.Within == "" {
			return 0, true
		}
	}
	if c.Within == "" {
		k.errorf(condPath, "%s needs within: a number of days such as 7d or 2w (0d: today only)", c.Op)
		return 0, false
	}
	d, err := campaign.ParseDuration(c.Within)
	if err != nil || d < 0 || d%(24*time.Hour) != 0 {
		k.errorf(path, "within %s: use whole days or weeks such as 7d or 2w", show(c.Within))
		return 0, false
	}
	days := int64(d / (24 * time.Hour))
	if days > int64(limit) {
		k.errorf(path, "within %s is too long for %s: at most %dd", c.Within, c.Op, limit)
		return 0, false
	}
	return int(days), true
}

// datePart checks `{field, part, op, value}`.
func (k *checker) datePart(path string, c *Condition, ref *FieldRef, sc scope) Node {
	pp := campaign.JoinPath(path, "part")
	if !contains(DateParts, c.Part) {
		k.errorf(pp, "unknown part %q%s; valid: %s", c.Part, campaign.DidYouMean(c.Part, DateParts), strings.Join(DateParts, ", "))
		return nil
	}
	desc := fmt.Sprintf("the %s of %q", c.Part, c.Field)
	subj := subjectInfo{typ: campaign.TypeInteger, desc: desc, strict: true, ops: partOps}
	switch c.Part {
	case "year":
		subj.lo, subj.hi = 1, 9999
	case "month":
		subj.lo, subj.hi = 1, 12
	case "day":
		subj.lo, subj.hi = 1, 31
	case "weekday":
		subj = subjectInfo{typ: campaign.TypeString, enum: Weekdays, desc: desc, ops: weekdayOps}
	}
	errs := k.errs
	vals := k.comparison(path, c.Op, c.Value, subj, sc)
	if c.Part == "weekday" && k.errs == errs {
		// Days compare as ISO numbers: mon 1 .. sun 7.
		for i, v := range vals {
			x, _ := v.(Const)
			s, ok := x.Value.(string)
			if !ok {
				k.errorf(campaign.JoinPath(path, "value"), "a weekday compares with days written out: %s, or a variable holding them", strings.Join(Weekdays, ", "))
				return nil
			}
			for j, d := range Weekdays {
				if d == s {
					vals[i] = Const{int64(j + 1)}
				}
			}
		}
	}
	if ref == nil {
		return nil
	}
	return &Compare{Subject: &DatePart{Field: ref, Part: c.Part, Zone: zoneRef(sc)}, Type: campaign.TypeInteger, Op: c.Op, Values: vals}
}

// zoneColumn is the recipient's time zone column of the rows in scope: the
// catalog's targeting.timezone of their table, when the rows have it.
func zoneColumn(sc scope) (campaign.Column, bool) {
	if sc.table == nil || sc.table.Targeting == nil || sc.table.Targeting.Timezone == "" {
		return campaign.Column{}, false
	}
	col, ok := sc.schema.Column(sc.table.Targeting.Timezone)
	if !ok || col.Type != campaign.TypeString {
		return campaign.Column{}, false
	}
	return col, true
}

func zoneRef(sc scope) *FieldRef {
	col, ok := zoneColumn(sc)
	if !ok {
		return nil
	}
	return &FieldRef{Name: col.Name, Column: col}
}

// Lowering. Calendar dates are taken in the recipient's zone (a valid IANA
// name in the zone column), else in the campaign's. Today is at most one day
// away from today in UTC in every zone (offsets are within -12h..+14h), so a
// window compares the row's today with three constant days.

// zoneSQL is the time zone name of a row: its zone column when it names a
// zone the engine knows, else the campaign's. DuckDB lists its zones in
// pg_timezone_names(); Trino fails a query on a zone it does not know (try()
// does not catch it) and lists none, so there the names are a relation the
// host provides (SQLScope.Zones).
func (l *lowerer) zoneSQL(alias string, zone *FieldRef) (frag, error) {
	campaignZone := frag{sql: "CAST(? AS VARCHAR)", args: []any{l.loc.String()}}
	if zone == nil {
		return campaignZone, nil
	}
	z, err := l.col(alias, zone.Column.Name)
	if err != nil {
		return frag{}, err
	}
	known := "SELECT name FROM pg_timezone_names()"
	if l.sc.Dialect == Trino {
		rel, err := l.zones()
		if err != nil {
			return frag{}, err
		}
		known = `SELECT "name" FROM ` + rel
	}
	return frag{sql: "COALESCE(CASE WHEN " + z + " IN (" + known + ") THEN " + z + " END, " + campaignZone.sql + ")",
		args: campaignZone.args}, nil
}

// zones is the relation of the zone names Trino knows.
func (l *lowerer) zones() (string, error) {
	if l.sc.Zones == nil {
		return "", errors.New("condition: no relation of time zone names (SQLScope.Zones is nil)")
	}
	rel, err := l.sc.Zones()
	if err != nil {
		return "", fmt.Errorf("condition: time zone names: %w", err)
	}
	return l.qualify(rel)
}

// atZone is the calendar date of an instant (a TIMESTAMPTZ expression) in
// zone z: DuckDB's timezone(z, t) is its wall-clock time there; Trino's
// at_timezone(t, z) the same instant in z (its AT TIME ZONE takes only a
// literal). Either cast to DATE gives the local date.
func (d Dialect) atZone(t, z frag) frag {
	if d == Trino {
		return frag{sql: "CAST(at_timezone(" + t.sql + ", " + z.sql + ") AS DATE)", args: append(append([]any(nil), t.args...), z.args...)}
	}
	return frag{sql: "CAST(timezone(" + z.sql + ", " + t.sql + ") AS DATE)", args: append(append([]any(nil), z.args...), t.args...)}
}

// datePartFunc is the function giving a part of a date: Trino has no
// dayofmonth or isodow (its day_of_week is ISO: Monday 1 .. Sunday 7).
func (d Dialect) datePartFunc(part string) string {
	if d == Trino {
		return map[string]string{"year": "year", "month": "month", "day": "day", "weekday": "day_of_week"}[part]
	}
	return map[string]string{"year": "year", "month": "month", "day": "dayofmonth", "weekday": "isodow"}[part]
}

// daysBetween is the number of days from date a to date b: Trino has no
// date - date; date_diff reads alike in both but DuckDB's SQL stays as it
// was.
func (d Dialect) daysBetween(a, b frag) frag {
	if d == Trino {
		return frag{sql: "date_diff('day', " + a.sql + ", " + b.sql + ")", args: append(append([]any(nil), a.args...), b.args...)}
	}
	return frag{sql: "(" + b.sql + " - " + a.sql + ")", args: append(append([]any(nil), b.args...), a.args...)}
}

// localDate is the calendar date of a date or timestamp field.
func (l *lowerer) localDate(alias string, ref *FieldRef, zone *FieldRef) (frag, error) {
	f, err := l.field(alias, ref)
	if err != nil || ref.Column.Type == campaign.TypeDate {
		return f, err
	}
	z, err := l.zoneSQL(alias, zone)
	if err != nil {
		return frag{}, err
	}
	ts := frag{sql: "CAST(" + f.sql + " AS " + l.sc.Dialect.typeName("TIMESTAMPTZ") + ")", args: f.args}
	return l.sc.Dialect.atZone(ts, z), nil
}

// today is the row's calendar date of the run's instant.
func (l *lowerer) today(alias string, zone *FieldRef) (frag, error) {
	if zone == nil {
		return placeholder("DATE", l.sc.Now.In(l.loc).Format("2006-01-02"))
	}
	z, err := l.zoneSQL(alias, zone)
	if err != nil {
		return frag{}, err
	}
	now, _ := l.placeholder("TIMESTAMPTZ", l.sc.Dialect.timestamp(l.sc.Now))
	return l.sc.Dialect.atZone(now, z), nil
}

func (l *lowerer) datePart(alias string, p *DatePart) (frag, error) {
	d, err := l.localDate(alias, p.Field, p.Zone)
	if err != nil {
		return frag{}, err
	}
	fn := l.sc.Dialect.datePartFunc(p.Part)
	if fn == "" {
		return frag{}, fmt.Errorf("condition: unknown date part %q", p.Part)
	}
	return frag{sql: fn + "(" + d.sql + ")", args: d.args}, nil
}

func (l *lowerer) dateWindow(n *DateWindow, alias string) (frag, error) {
	if l.sc.Now.IsZero() {
		return frag{}, fmt.Errorf("condition: %s needs SQLScope.Now", n.Op)
	}
	d, err := l.localDate(alias, n.Field, n.Zone)
	if err != nil {
		return frag{}, err
	}
	today, err := l.today(alias, n.Zone)
	if err != nil {
		return frag{}, err
	}
	if n.Op != "anniversary" {
		// inLast: today-Days <= d <= today; inNext: today <= d <= today+Days.
		from, to := d, today
		if n.Op == "inNext" {
			from, to = today, d
		}
		diff := l.sc.Dialect.daysBetween(from, to)
		return frag{sql: "COALESCE(" + diff.sql + " BETWEEN 0 AND CAST(? AS INTEGER), false)", args: append(diff.args, int64(n.Days))}, nil
	}
	if n.Zone == nil {
		return anniversaryOn(l.sc.Dialect, d, l.sc.Now.In(l.loc), n.Days), nil
	}
	// The row's today is one of three days: compare each.
	u := l.sc.Now.UTC()
	out := frag{sql: "CASE " + today.sql, args: append([]any(nil), today.args...)}
	for _, off := range []int{-1, 0, 1} {
		t := u.AddDate(0, 0, off)
		when, _ := placeholder("DATE", t.Format("2006-01-02"))
		then := anniversaryOn(l.sc.Dialect, d, t, n.Days)
		out.sql += " WHEN " + when.sql + " THEN " + then.sql
		out.args = append(append(out.args, when.args...), then.args...)
	}
	out.sql += " ELSE false END"
	return out, nil
}

// anniversaryOn is true when an anniversary of the date d falls within days
// days from today's date: d is before today, and its month and day are
// those of a day of the window. 29 February's anniversary is 28 February
// in years that have no 29 February.
func anniversaryOn(dl Dialect, d frag, today time.Time, days int) frag {
	t := time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	in := map[int]bool{}
	for i := 0; i <= days; i++ {
		x := t.AddDate(0, 0, i)
		in[monthDay(x)] = true
		if x.Month() == time.February && x.Day() == 28 && !leap(x.Year()) {
			in[229] = true
		}
	}
	// Runs of consecutive calendar days, in a leap year's order.
	var runs [][2]int
	open := false
	for x := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC); x.Year() == 2000; x = x.AddDate(0, 0, 1) {
		md := monthDay(x)
		switch {
		case in[md] && open:
			runs[len(runs)-1][1] = md
		case in[md]:
			runs = append(runs, [2]int{md, md})
			open = true
		default:
			open = false
		}
	}
	md := "(month(" + d.sql + ") * 100 + " + dl.datePartFunc("day") + "(" + d.sql + "))"
	out := frag{sql: "COALESCE(" + d.sql + " < CAST(? AS DATE) AND ("}
	out.args = append(append(out.args, d.args...), t.Format("2006-01-02"))
	for i, r := range runs {
		if i > 0 {
			out.sql += " OR "
		}
		out.sql += md + " BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)"
		out.args = append(append(append(out.args, d.args...), d.args...), int64(r[0]), int64(r[1]))
	}
	out.sql += "), false)"
	return out
}

func monthDay(t time.Time) int { return int(t.Month())*100 + t.Day() }

func leap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }
