package condition

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Operators lists the comparison operators, in documentation order.
var Operators = []string{
	"eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "isEmpty", "isNotEmpty",
	"startsWith", "notStartsWith", "contains", "notContains", "like", "notLike", "between",
}

// Aggregates lists the aggregate functions of link conditions.
var Aggregates = []string{"count", "countDistinct", "sum", "avg", "min", "max"}

// Weekdays lists the values of a `weekday` run fact, Monday first.
var Weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

var (
	orderedOps = []string{"eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "between", "isEmpty", "isNotEmpty"}
	boolOps    = []string{"eq", "ne", "in", "notIn", "isEmpty", "isNotEmpty"}
	emptyOps   = []string{"isEmpty", "isNotEmpty"}
)

// OperatorsFor returns the operators that apply to a column type.
func OperatorsFor(typ string) []string {
	switch typ {
	case campaign.TypeString:
		return Operators
	case campaign.TypeInteger, campaign.TypeNumber, campaign.TypeDecimal, campaign.TypeDate, campaign.TypeTimestamp:
		return orderedOps
	case campaign.TypeBoolean:
		return boolOps
	case campaign.TypeJSON:
		return emptyOps
	}
	return Operators // unknown type: checked elsewhere
}

// arity is the shape of value an operator takes.
type arity int

const (
	noValue   arity = iota // isEmpty, isNotEmpty
	oneValue               // eq, gt, startsWith, like, ...
	listValue              // in, notIn: one or more
	pairValue              // between: [low, high]
)

func arityOf(op string) arity {
	switch op {
	case "isEmpty", "isNotEmpty":
		return noValue
	case "in", "notIn":
		return listValue
	case "between":
		return pairValue
	}
	return oneValue
}

// kind groups column types that compare with each other.
func kind(typ string) string {
	switch typ {
	case campaign.TypeInteger, campaign.TypeNumber, campaign.TypeDecimal:
		return "numeric"
	}
	return typ
}

func isNumeric(typ string) bool { return kind(typ) == "numeric" }

func isTime(typ string) bool { return typ == campaign.TypeDate || typ == campaign.TypeTimestamp }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// constant normalizes a compile-time value (a literal or a campaign
// variable) to string, int64, float64, bool, nil or []any of those.
// Dates read by YAML as time.Time become YYYY-MM-DD (midnight UTC) or
// RFC 3339 strings.
func constant(x any) (any, error) {
	switch t := x.(type) {
	case nil, string, bool, int64:
		return t, nil
	case int:
		return int64(t), nil
	case int32:
		return int64(t), nil
	case uint64:
		if t > math.MaxInt64 {
			return nil, fmt.Errorf("integer %d is out of range", t)
		}
		return int64(t), nil
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, fmt.Errorf("%v is not a finite number", t)
		}
		return t, nil
	case time.Time:
		if t.Location() == time.UTC && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
			return t.Format("2006-01-02"), nil
		}
		return t.Format(time.RFC3339Nano), nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			c, err := constant(e)
			if err != nil {
				return nil, err
			}
			if _, nested := c.([]any); nested {
				return nil, fmt.Errorf("nested lists are not allowed")
			}
			out[i] = c
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %T is not a value a condition can compare", x)
}

// constType is the column type a constant compares as ("" for null).
func constType(x any) string {
	switch x.(type) {
	case string:
		return campaign.TypeString
	case int64:
		return campaign.TypeInteger
	case float64:
		return campaign.TypeNumber
	case bool:
		return campaign.TypeBoolean
	}
	return ""
}

// show formats a constant for a message.
func show(x any) string {
	switch t := x.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(t)
	case []any:
		parts := make([]string, len(t))
		for i, e := range t {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(x)
}

// parseDate parses a strict YYYY-MM-DD date.
func parseDate(s string) (time.Time, bool) {
	t, err := time.Parse("2006-01-02", s)
	return t, err == nil
}

// parseInstant parses a date (midnight in loc) or a timestamp (RFC 3339, or
// without offset in loc).
func parseInstant(s string, loc *time.Location) (time.Time, error) {
	t, _, err := campaign.ParseTime(s, loc)
	return t, err
}

// shift moves now by d in loc: whole days as calendar days (so "7d" keeps the
// wall-clock time across a DST change), the rest as elapsed time.
func shift(now time.Time, loc *time.Location, d time.Duration, sign int) time.Time {
	days := int(d / (24 * time.Hour))
	rest := d % (24 * time.Hour)
	return now.In(loc).AddDate(0, 0, sign*days).Add(time.Duration(sign) * rest)
}

// likeMatch reports whether s matches a SQL LIKE pattern (% any run, _ one
// character; no escape character), case-sensitively.
func likeMatch(s, pattern string) bool {
	str, pat := []rune(s), []rune(pattern)
	// dp over pattern positions reachable after consuming a prefix of str.
	cur := make([]bool, len(pat)+1)
	cur[0] = true
	for j := 1; j <= len(pat) && pat[j-1] == '%'; j++ {
		cur[j] = true
	}
	for _, r := range str {
		next := make([]bool, len(pat)+1)
		for j := 1; j <= len(pat); j++ {
			switch pat[j-1] {
			case '%':
				next[j] = next[j-1] || cur[j]
			case '_':
				next[j] = cur[j-1]
			default:
				next[j] = cur[j-1] && pat[j-1] == r
			}
		}
		cur = next
	}
	return cur[len(pat)]
}
