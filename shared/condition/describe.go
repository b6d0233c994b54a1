package condition

import (
	"fmt"
	"strconv"
	"strings"
)

// Describe says a condition in plain words, as a marketer reads it:
// "country is FR and consent is true". Nested groups are parenthesised.
func (c *Condition) Describe() string {
	if c == nil {
		return "every row"
	}
	return c.describe(false)
}

func (c *Condition) describe(nested bool) string {
	group := func(parts []Condition, sep string) string {
		var out []string
		for i := range parts {
			out = append(out, parts[i].describe(len(parts) > 1))
		}
		s := strings.Join(out, sep)
		if nested && len(parts) > 1 {
			s = "(" + s + ")"
		}
		return s
	}
	switch {
	case len(c.All) > 0:
		return group(c.All, " and ")
	case len(c.Any) > 0:
		return group(c.Any, " or ")
	case c.Not != nil:
		return "not " + c.Not.describe(true)
	case c.InAudience != "":
		return "in the audience " + c.InAudience
	case c.Link != "" && c.Exists != nil:
		return "has " + c.Link + exists(c.Exists)
	case c.Link != "" && c.NotExists != nil:
		return "has no " + c.Link + exists(c.NotExists)
	case c.Link != "" && c.Aggregate != "":
		return Aggregate(c.Aggregate, c.Link, c.Field, c.Where) + " " + comparison(c.Op, c.Value, c.Within)
	case c.Count != "":
		return "the count of " + c.Count + " " + comparison(c.Op, c.Value, "")
	case c.Param != "":
		return "the parameter " + c.Param + " " + comparison(c.Op, c.Value, "")
	case c.Variable != "":
		return "the variable " + c.Variable + " " + comparison(c.Op, c.Value, "")
	case len(c.Weekday) > 0:
		return "the day is " + orList(c.Weekday)
	case c.Hour != nil:
		return "the hour " + comparison(c.Hour.Op, c.Hour.Value, "")
	case c.Field != "":
		subject := c.Field
		if c.Part != "" {
			subject = "the " + c.Part + " of " + c.Field
		}
		return subject + " " + comparison(c.Op, c.Value, c.Within)
	}
	return "every row"
}

// Aggregate says an aggregate of linked rows in words: "the sum of
// purchases.amount where purchasedAt is after 365 days ago".
func Aggregate(aggregate, link, field string, where *Condition) string {
	subject := aggregates[aggregate]
	if subject == "" {
		subject = "the " + aggregate + " of"
	}
	if field != "" {
		subject += " " + link + "." + field
	} else {
		subject += " " + link
	}
	if where != nil {
		subject += " where " + where.describe(true)
	}
	return subject
}

func exists(e *Exists) string {
	if e.Cond == nil {
		return ""
	}
	return " where " + e.Cond.describe(true)
}

var aggregates = map[string]string{
	"count": "the number of", "countDistinct": "the number of distinct", "sum": "the sum of",
	"avg": "the average of", "min": "the smallest", "max": "the largest",
}

// comparison is "is FR", "is at least 100", "is before 90 days ago"...
func comparison(op string, v *Value, within string) string {
	date := v != nil && (v.Ago != "" || v.Ahead != "" || v.Now)
	words := map[string]string{
		"eq": "is", "ne": "is not", "gt": "is more than", "gte": "is at least", "lt": "is less than", "lte": "is at most",
		"in": "is one of", "notIn": "is none of", "startsWith": "starts with", "notStartsWith": "does not start with",
		"contains": "contains", "notContains": "does not contain", "like": "is like", "notLike": "is not like",
	}
	if date {
		words["gt"], words["gte"], words["lt"], words["lte"] = "is after", "is on or after", "is before", "is on or before"
	}
	switch op {
	case "isEmpty":
		return "is empty"
	case "isNotEmpty":
		return "is not empty"
	case "between":
		if v != nil && len(v.List) == 2 {
			return "is between " + v.List[0].describe() + " and " + v.List[1].describe()
		}
	case "anniversary":
		if within == "" || within == "0d" {
			return "has its anniversary today"
		}
		return "has its anniversary within " + span(within)
	case "inLast":
		return "is in the last " + span(within)
	case "inNext":
		return "is in the next " + span(within)
	}
	w := words[op]
	if w == "" {
		w = op
	}
	if v == nil {
		return w
	}
	return w + " " + v.describe()
}

// Describe says a value in words: "FR", "the parameter discount", "now".
func (v *Value) Describe() string {
	if v == nil {
		return "null"
	}
	return v.describe()
}

func (v *Value) describe() string {
	switch {
	case v.IsList:
		var items []string
		for _, x := range v.List {
			items = append(items, x.describe())
		}
		return orList(items)
	case v.Param != "":
		return "the parameter " + v.Param
	case v.Variable != "":
		return "the variable " + v.Variable
	case v.Field != "":
		return "the field " + v.Field
	case v.Ago != "":
		return span(v.Ago) + " ago"
	case v.Ahead != "":
		return span(v.Ahead) + " ahead"
	case v.Now:
		return "now"
	case v.Literal == nil:
		return "null"
	}
	switch x := v.Literal.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v.Literal)
}

// span says 90d as "90 days", 2w as "2 weeks", 12h as "12 hours".
func span(s string) string {
	units := map[byte]string{'d': "day", 'w': "week", 'h': "hour", 'm': "minute", 's': "second", 'y': "year"}
	if len(s) < 2 {
		return s
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	u, ok := units[s[len(s)-1]]
	if err != nil || !ok {
		return s
	}
	if n != 1 {
		u += "s"
	}
	return strconv.Itoa(n) + " " + u
}

// Span says a duration written as 90d, 2w or 12h in words: "90 days".
func Span(s string) string { return span(s) }

func orList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
