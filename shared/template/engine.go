package template

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/osteele/liquid/expressions"
	"github.com/osteele/liquid/filters"
	"github.com/osteele/liquid/render"
	"github.com/osteele/liquid/tags"
	"github.com/osteele/liquid/values"
	"github.com/osteele/tuesday"
)

// Output tags: Parse rewrites every {{ expr }} to one of these, so that the
// value is formatted (and escaped) by writeValue.
const (
	tagHTML = "_stepwise_html" // escaped output
	tagText = "_stepwise_text" // verbatim output
)

var (
	engine      = newEngine()
	filterNames map[string]bool // every registered filter
	filterList  []string        // sorted, for suggestions
)

type filterRecorder struct{ cfg *render.Config }

func (r filterRecorder) AddFilter(name string, fn any) {
	r.cfg.AddFilter(name, fn)
	filterNames[name] = true
}

func newEngine() render.Config {
	cfg := render.NewConfig()
	filterNames = map[string]bool{}
	rec := filterRecorder{&cfg}
	filters.AddStandardFilters(rec)
	addFilters(rec)
	tags.AddStandardTags(cfg)
	cfg.AddTag("cycle", cycleTag) // the library's shares a variable across renders
	cfg.AddTag(tagHTML, outputTag(true))
	cfg.AddTag(tagText, outputTag(false))
	for n := range filterNames {
		filterList = append(filterList, n)
	}
	sort.Strings(filterList)
	return cfg
}

// outputTag compiles the expression of a rewritten {{ expr }}.
func outputTag(escape bool) render.TagCompiler {
	return func(args string) (func(io.Writer, render.Context) error, error) {
		expr, err := expressions.Parse(args)
		if err != nil {
			return nil, err
		}
		return func(w io.Writer, ctx render.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = panicError(r)
				}
			}()
			v, err := ctx.Evaluate(expr)
			if err != nil {
				return err
			}
			return writeValue(w, v, escape)
		}, nil
	}
}

// cycleTag is the library's cycle tag without its data race (its renderer
// assigns a variable captured from the compiler).
func cycleTag(args string) (func(io.Writer, render.Context) error, error) {
	stmt, err := expressions.ParseStatement(expressions.CycleStatementSelector, args)
	if err != nil {
		return nil, err
	}
	group, vals := stmt.Cycle.Group, stmt.Cycle.Values
	return func(w io.Writer, ctx render.Context) error {
		loop, _ := ctx.Get("forloop").(map[string]any)
		cycles, _ := loop[".cycles"].(map[string]int)
		if cycles == nil || len(vals) == 0 {
			return ctx.Errorf("cycle must be within a forloop")
		}
		n := cycles[group]
		cycles[group] = n + 1
		_, err := io.WriteString(w, vals[n%len(vals)])
		return err
	}, nil
}

// panicError turns a recovered panic into an error.
func panicError(r any) error {
	if e, ok := r.(error); ok {
		return fmt.Errorf("%w", rootCause(e))
	}
	return fmt.Errorf("%v", r)
}

// addFilters adds the filters marketers expect beyond osteele's standard set,
// and replaces those whose behaviour differs from Shopify Liquid.
func addFilters(fd filterRecorder) {
	// raw marks an output as HTML that must not be escaped.
	fd.AddFilter("raw", func(v any) any { return v })
	fd.AddFilter("at_least", func(a, b float64) float64 { return math.Max(a, b) })
	fd.AddFilter("at_most", func(a, b float64) float64 { return math.Min(a, b) })
	fd.AddFilter("base64_encode", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) })
	fd.AddFilter("base64_decode", func(s string) (string, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err
	})
	fd.AddFilter("base64_url_safe_encode", func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) })
	// Shopify: first character upper case, the rest lower case (rune-aware).
	fd.AddFilter("capitalize", func(s string) string {
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 {
			return s
		}
		return string(unicode.ToUpper(r)) + strings.ToLower(s[n:])
	})
	// Shopify: the result, ellipsis included, has at most n characters.
	fd.AddFilter("truncate", func(s string, length func(int) int, ellipsis func(string) string) string {
		n, el := length(50), ellipsis("...")
		rs := []rune(s)
		if len(rs) <= n {
			return s
		}
		keep := n - utf8.RuneCountInString(el)
		if keep < 0 {
			keep = 0
		}
		return string(rs[:keep]) + el
	})
	// Shopify: at most n words (at least 1), joined by single spaces.
	fd.AddFilter("truncatewords", func(s string, length func(int) int, ellipsis func(string) string) string {
		n, el := length(15), ellipsis("...")
		if n < 1 {
			n = 1
		}
		words := strings.Fields(s)
		if len(words) <= n {
			return s
		}
		return strings.Join(words[:n], " ") + el
	})
	// nil and "" stay empty instead of failing; "now" and "today" are the current time.
	fd.AddFilter("date", func(v any, format func(string) string) (any, error) {
		var t time.Time
		switch x := v.(type) {
		case nil:
			return nil, nil
		case time.Time:
			t = x
		case string:
			switch strings.TrimSpace(x) {
			case "":
				return nil, nil
			case "now", "today":
				t = time.Now()
			default:
				p, err := values.ParseDate(x)
				if err != nil {
					return nil, err
				}
				t = p
			}
		case int:
			t = time.Unix(int64(x), 0).UTC()
		case int64:
			t = time.Unix(x, 0).UTC()
		case float64:
			t = time.Unix(int64(x), 0).UTC()
		default:
			return nil, fmt.Errorf("not a date: %v", v)
		}
		return tuesday.Strftime(format("%a, %b %d, %y"), t)
	})
	// Shopify: integer division (rounded down) when both are integers.
	fd.AddFilter("divided_by", func(a, b any) (any, error) {
		ai, aInt := toInt(a)
		bi, bInt := toInt(b)
		if aInt && bInt {
			if bi == 0 {
				return nil, errDivisionByZero
			}
			q := ai / bi
			if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
				q--
			}
			return q, nil
		}
		af, err := toFloat(a)
		if err != nil {
			return nil, err
		}
		bf, err := toFloat(b)
		if err != nil {
			return nil, err
		}
		if bf == 0 {
			return nil, errDivisionByZero
		}
		return af / bf, nil
	})
	fd.AddFilter("strip_html", func(s string) string { return stripHTML.ReplaceAllString(s, "") })
}

var errDivisionByZero = errors.New("division by zero")

func toInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("not a number: %q", x)
		}
		return f, nil
	}
	if n, ok := toInt(v); ok {
		return float64(n), nil
	}
	return 0, fmt.Errorf("not a number: %v", v)
}

var stripHTML = regexp.MustCompile(`(?is)<script.*?</script>|<style.*?</style>|<!--.*?-->|<[^>]*>`)
