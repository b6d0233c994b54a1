package condition

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

func testFacts() FactPaths {
	return FactPaths{
		Count: func(tr campaign.Transition) (string, error) {
			if err := testCount(tr); err != nil {
				return "", err
			}
			return "$.r." + tr.Activity + ".ports." + tr.PortOrOut() + ".count", nil
		},
		ParamTypes: testParams,
		Variables:  testVariables,
		Location:   paris,
	}
}

// compactJSON re-indents want so that cases can be written readably.
func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		t.Fatalf("bad JSON %s: %v", s, err)
	}
	return b.String()
}

func TestToChoice(t *testing.T) {
	const (
		lapsed  = `"$.r.lapsed.ports.out.count"`
		vip     = `"$.r.byValue.ports.vip.count"`
		region  = `"$.run.params.region"`
		guardR  = `{"Variable":` + region + `,"IsPresent":true},{"Not":{"Variable":` + region + `,"IsNull":true}}`
		always  = `{"Variable":"$.run.id","IsPresent":true}`
		never   = `{"Not":{"Variable":"$.run.id","IsPresent":true}}`
		weekday = `"$.run.weekday"`
		hour    = `"$.run.hour"`
	)
	guard := func(p string) string {
		return `{"Variable":` + p + `,"IsPresent":true},{"Not":{"Variable":` + p + `,"IsNull":true}}`
	}
	cases := []struct{ name, doc, want string }{
		{"count gt", `where: { count: lapsed, op: gt, value: 1000 }`,
			`{"And":[{"Variable":` + lapsed + `,"IsPresent":true},{"Variable":` + lapsed + `,"NumericGreaterThan":1000}]}`},
		{"count port between", `where: { count: byValue.vip, op: between, value: [10, 20] }`,
			`{"And":[{"Variable":` + vip + `,"IsPresent":true},{"Variable":` + vip + `,"NumericGreaterThanEquals":10},{"Variable":` + vip + `,"NumericLessThanEquals":20}]}`},
		{"count notIn", `where: { count: lapsed, op: notIn, value: [0, 1] }`,
			`{"And":[{"Variable":` + lapsed + `,"IsPresent":true},{"Not":{"Or":[{"Variable":` + lapsed + `,"NumericEquals":0},{"Variable":` + lapsed + `,"NumericEquals":1}]}}]}`},
		{"count ne", `where: { count: lapsed, op: ne, value: 0 }`,
			`{"And":[{"Variable":` + lapsed + `,"IsPresent":true},{"Not":{"Variable":` + lapsed + `,"NumericEquals":0}}]}`},
		{"count not activated", `where: { count: lapsed, op: isEmpty }`,
			`{"Not":{"Variable":` + lapsed + `,"IsPresent":true}}`},
		{"count activated", `where: { count: lapsed, op: isNotEmpty }`,
			`{"Variable":` + lapsed + `,"IsPresent":true}`},
		{"param eq", `where: { param: region, op: eq, value: FR }`,
			`{"And":[` + guardR + `,{"Variable":` + region + `,"StringEquals":"FR"}]}`},
		{"param ne", `where: { param: region, op: ne, value: FR }`,
			`{"And":[` + guardR + `,{"Not":{"Variable":` + region + `,"StringEquals":"FR"}}]}`},
		{"param gt string", `where: { param: region, op: gt, value: M }`,
			`{"And":[` + guardR + `,{"Variable":` + region + `,"StringGreaterThan":"M"}]}`},
		{"param isEmpty string", `where: { param: region, op: isEmpty }`,
			`{"Or":[{"Not":{"Variable":` + region + `,"IsPresent":true}},{"Variable":` + region + `,"IsNull":true},{"Variable":` + region + `,"StringEquals":""}]}`},
		{"param isNotEmpty integer", `where: { param: discount, op: isNotEmpty }`,
			`{"Not":{"Or":[{"Not":{"Variable":"$.run.params.discount","IsPresent":true}},{"Variable":"$.run.params.discount","IsNull":true}]}}`},
		{"param in with variable", `where: { param: discount, op: in, value: [5, { variable: minAge }] }`,
			`{"And":[` + guard(`"$.run.params.discount"`) + `,{"Or":[{"Variable":"$.run.params.discount","NumericEquals":5},{"Variable":"$.run.params.discount","NumericEquals":18}]}]}`},
		{"param in variable list", `where: { param: region, op: in, value: { variable: countries } }`,
			`{"And":[` + guardR + `,{"Or":[{"Variable":` + region + `,"StringEquals":"FR"},{"Variable":` + region + `,"StringEquals":"DE"}]}]}`},
		{"param number lte", `where: { param: ratio, op: lte, value: 0.25 }`,
			`{"And":[` + guard(`"$.run.params.ratio"`) + `,{"Variable":"$.run.params.ratio","NumericLessThanEquals":0.25}]}`},
		{"param boolean", `where: { param: vipOnly, op: eq, value: true }`,
			`{"And":[` + guard(`"$.run.params.vipOnly"`) + `,{"Variable":"$.run.params.vipOnly","BooleanEquals":true}]}`},
		{"param boolean ne", `where: { param: vipOnly, op: ne, value: true }`,
			`{"And":[` + guard(`"$.run.params.vipOnly"`) + `,{"Not":{"Variable":"$.run.params.vipOnly","BooleanEquals":true}}]}`},
		{"param date", `where: { param: since, op: gte, value: 2026-01-01 }`,
			`{"And":[` + guard(`"$.run.params.since"`) + `,{"Variable":"$.run.params.since","StringGreaterThanEquals":"2026-01-01"}]}`},
		{"param timestamp local", `where: { param: cutoff, op: lt, value: 2026-02-01T09:00:00 }`,
			`{"And":[` + guard(`"$.run.params.cutoff"`) + `,{"Variable":"$.run.params.cutoff","TimestampLessThan":"2026-02-01T08:00:00Z"}]}`},
		{"param timestamp date", `where: { param: cutoff, op: eq, value: 2026-07-01 }`,
			`{"And":[` + guard(`"$.run.params.cutoff"`) + `,{"Variable":"$.run.params.cutoff","TimestampEquals":"2026-06-30T22:00:00Z"}]}`},
		{"param startsWith escapes", `where: { param: region, op: startsWith, value: 'F*\' }`,
			`{"And":[` + guardR + `,{"Variable":` + region + `,"StringMatches":"F\\*\\\\*"}]}`},
		{"param contains", `where: { param: region, op: contains, value: R }`,
			`{"And":[` + guardR + `,{"Variable":` + region + `,"StringMatches":"*R*"}]}`},
		{"param notLike", `where: { param: region, op: notLike, value: "%R%*" }`,
			`{"And":[` + guardR + `,{"Not":{"Variable":` + region + `,"StringMatches":"*R*\\*"}}]}`},
		{"weekday", `where: { weekday: [mon, tue] }`,
			`{"Or":[{"Variable":` + weekday + `,"StringEquals":"mon"},{"Variable":` + weekday + `,"StringEquals":"tue"}]}`},
		{"weekday one", `where: { weekday: [sat] }`,
			`{"Variable":` + weekday + `,"StringEquals":"sat"}`},
		{"hour lt", `where: { hour: { op: lt, value: 12 } }`,
			`{"Variable":` + hour + `,"NumericLessThan":12}`},
		{"hour notIn", `where: { hour: { op: notIn, value: [12, 13] } }`,
			`{"Not":{"Or":[{"Variable":` + hour + `,"NumericEquals":12},{"Variable":` + hour + `,"NumericEquals":13}]}}`},
		{"variable true", `where: { variable: season, op: eq, value: winter }`, always},
		{"variable false", `where: { variable: season, op: eq, value: summer }`, never},
		{"variable in", `where: { variable: season, op: in, value: [summer, winter] }`, always},
		{"variable between", `where: { variable: minAge, op: between, value: [10, 20] }`, always},
		{"variable float", `where: { variable: threshold, op: gt, value: 2 }`, always},
		{"variable like", `where: { variable: season, op: like, value: "w_n%" }`, always},
		{"variable notStartsWith", `where: { variable: season, op: notStartsWith, value: win }`, never},
		{"variable null isEmpty", `where: { variable: nothing, op: isEmpty }`, always},
		{"variable null ne", `where: { variable: nothing, op: ne, value: x }`, never},
		{"all any not", `where: { all: [ { weekday: [mon] }, { any: [ { hour: { op: lt, value: 9 } }, { not: { count: lapsed, op: gt, value: 10 } } ] } ] }`,
			`{"And":[{"Variable":` + weekday + `,"StringEquals":"mon"},{"Or":[{"Variable":` + hour + `,"NumericLessThan":9},{"Not":{"And":[{"Variable":` + lapsed + `,"IsPresent":true},{"Variable":` + lapsed + `,"NumericGreaterThan":10}]}}]}]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ToChoice(mustCond(t, tc.doc), testFacts())
			if err != nil {
				t.Fatalf("ToChoice: %v", err)
			}
			got, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if want := compactJSON(t, tc.want); string(got) != want {
				t.Errorf("\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestToChoicePaths(t *testing.T) {
	f := testFacts()
	f.Run = "$.ctx.run"
	f.ParamTypes = map[string]string{"my-param": campaign.TypeString, "it's": campaign.TypeString}
	r, err := ToChoice(mustCond(t, `where: { any: [ { param: my-param, op: eq, value: x }, { variable: season, op: eq, value: x } ] }`), f)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(r)
	want := `{"Or":[{"And":[{"Variable":"$.ctx.run.params['my-param']","IsPresent":true},{"Not":{"Variable":"$.ctx.run.params['my-param']","IsNull":true}},{"Variable":"$.ctx.run.params['my-param']","StringEquals":"x"}]},{"Not":{"Variable":"$.ctx.run.id","IsPresent":true}}]}`
	if string(got) != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if _, err := ToChoice(mustCond(t, `where: { param: "it's", op: isEmpty }`), f); err == nil || !strings.Contains(err.Error(), "JSONPath") {
		t.Errorf("quote in parameter name: %v", err)
	}
}

func TestToChoiceErrors(t *testing.T) {
	noCount := testFacts()
	noCount.Count = nil
	cases := []struct {
		name, doc string
		facts     FactPaths
		want      string
	}{
		{"unknown activity", `where: { count: nope, op: gt, value: 1 }`, testFacts(), `count: unknown activity "nope"`},
		{"no count paths", `where: { count: lapsed, op: gt, value: 1 }`, noCount, "FactPaths.Count is nil"},
		{"field", `where: { field: age, op: gt, value: 1 }`, testFacts(), "need a population"},
		{"like underscore", `where: { param: region, op: like, value: F_ }`, testFacts(), "supports % only"},
		{"param ref", `where: { param: discount, op: gt, value: { param: discount } }`, testFacts(), "compares with constants"},
		{"unknown param", `where: { param: nope, op: isEmpty }`, testFacts(), `param: unknown parameter "nope"`},
		{"many errors: the first", `where: { all: [ { weekday: [funday] }, { hour: { op: gt, value: 99 } } ] }`, testFacts(), `condition: invalid: all[0].weekday[0]: unknown weekday "funday"; valid: mon, tue, wed, thu, fri, sat, sun`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ToChoice(mustCond(t, tc.doc), tc.facts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("want error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestEvalConst(t *testing.T) {
	cases := []struct {
		x    any
		op   string
		vals []any
		want bool
	}{
		{"b", "gt", []any{"a"}, true},
		{"B", "eq", []any{"b"}, false}, // case-sensitive
		{"b", "lte", []any{"b"}, true},
		{int64(3), "lt", []any{3.5}, true},
		{3.5, "gte", []any{int64(4)}, false},
		{true, "eq", []any{true}, true},
		{true, "ne", []any{false}, true},
		{"x", "in", []any{"a", "x"}, true},
		{"x", "notIn", []any{"a", "b"}, true},
		{"x", "notIn", []any{"a", nil}, false}, // as SQL: NOT IN with a null is not true
		{"x", "eq", []any{nil}, false},
		{"x", "ne", []any{nil}, false},
		{nil, "ne", []any{"x"}, false},
		{nil, "notIn", []any{"x"}, false},
		{nil, "isEmpty", nil, true},
		{"", "isEmpty", nil, true},
		{"a", "isNotEmpty", nil, true},
		{int64(5), "between", []any{int64(5), int64(9)}, true},
		{int64(10), "between", []any{int64(5), int64(9)}, false},
		{"hello", "like", []any{"h_l%"}, true},
		{"hello", "like", []any{"h_l"}, false},
		{"hello", "like", []any{"%"}, true},
		{"", "like", []any{"%"}, true},
		{"", "like", []any{"_"}, false},
		{"50%", "like", []any{"50%"}, true},
		{"hello", "notLike", []any{"%ell%"}, false},
		{"hello", "startsWith", []any{"he"}, true},
		{"hello", "notContains", []any{"z"}, true},
	}
	for _, tc := range cases {
		got, err := evalConst(tc.x, tc.op, tc.vals)
		if err != nil || got != tc.want {
			t.Errorf("%s %s %s = %v, %v; want %v", show(tc.x), tc.op, show(tc.vals), got, err, tc.want)
		}
	}
	if _, err := evalConst("a", "gt", []any{int64(1)}); err == nil {
		t.Error("comparing a string with a number must fail")
	}
}
