package condition

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

func TestToSQLGolden(t *testing.T) {
	const (
		purchases = `FROM "v_purchases" AS l1 WHERE l1."customerId" = "t"."customerId"`
		zone      = `COALESCE(CASE WHEN "t"."timezone" IN (SELECT name FROM pg_timezone_names()) THEN "t"."timezone" END, CAST(? AS VARCHAR))`
		pDate     = `CAST(timezone(CAST(? AS VARCHAR), CAST(l1."purchasedAt" AS TIMESTAMPTZ)) AS DATE)`
		md        = `(month("t"."birthDate") * 100 + dayofmonth("t"."birthDate"))`
		anniv     = `COALESCE("t"."birthDate" < CAST(? AS DATE) AND (` + md
	)
	cases := []struct {
		name string
		doc  string
		sql  string
		args []any
	}{
		{"eq", `where: { field: country, op: eq, value: FR }`,
			`COALESCE("t"."country" = CAST(? AS VARCHAR), false)`, []any{"FR"}},
		{"ne", `where: { field: country, op: ne, value: FR }`,
			`COALESCE("t"."country" <> CAST(? AS VARCHAR), false)`, []any{"FR"}},
		{"gte integer", `where: { field: age, op: gte, value: 18 }`,
			`COALESCE("t"."age" >= CAST(? AS BIGINT), false)`, []any{int64(18)}},
		{"gt float on integer", `where: { field: age, op: gt, value: 30.5 }`,
			`COALESCE("t"."age" > CAST(? AS DOUBLE), false)`, []any{30.5}},
		{"lte decimal", `where: { field: balance, op: lte, value: 19.99 }`,
			`COALESCE("t"."balance" <= CAST(? AS DOUBLE), false)`, []any{19.99}},
		{"lt string", `where: { field: firstName, op: lt, value: M }`,
			`COALESCE("t"."firstName" < CAST(? AS VARCHAR), false)`, []any{"M"}},
		{"in", `where: { field: country, op: in, value: [FR, DE] }`,
			`COALESCE("t"."country" IN (CAST(? AS VARCHAR), CAST(? AS VARCHAR)), false)`, []any{"FR", "DE"}},
		{"notIn variable list", `where: { field: country, op: notIn, value: { variable: countries } }`,
			`COALESCE("t"."country" NOT IN (CAST(? AS VARCHAR), CAST(? AS VARCHAR)), false)`, []any{"FR", "DE"}},
		{"between", `where: { field: age, op: between, value: [{ variable: minAge }, 65] }`,
			`COALESCE("t"."age" BETWEEN CAST(? AS BIGINT) AND CAST(? AS BIGINT), false)`, []any{int64(18), int64(65)}},
		{"bool", `where: { field: emailOptIn, op: eq, value: true }`,
			`COALESCE("t"."emailOptIn" = CAST(? AS BOOLEAN), false)`, []any{true}},
		{"isEmpty string", `where: { field: email, op: isEmpty }`,
			`(COALESCE(length("t"."email"), 0) = 0)`, nil},
		{"isNotEmpty string", `where: { field: email, op: isNotEmpty }`,
			`(COALESCE(length("t"."email"), 0) > 0)`, nil},
		{"isEmpty integer", `where: { field: age, op: isEmpty }`,
			`("t"."age" IS NULL)`, nil},
		{"isNotEmpty json", `where: { field: prefs, op: isNotEmpty }`,
			`("t"."prefs" IS NOT NULL)`, nil},
		{"startsWith", `where: { field: email, op: startsWith, value: "a%_b" }`,
			`COALESCE(starts_with("t"."email", CAST(? AS VARCHAR)), false)`, []any{"a%_b"}},
		{"notStartsWith", `where: { field: email, op: notStartsWith, value: x }`,
			`COALESCE(NOT starts_with("t"."email", CAST(? AS VARCHAR)), false)`, []any{"x"}},
		{"contains", `where: { field: email, op: contains, value: "@shop" }`,
			`COALESCE(contains("t"."email", CAST(? AS VARCHAR)), false)`, []any{"@shop"}},
		{"notContains", `where: { field: email, op: notContains, value: test }`,
			`COALESCE(NOT contains("t"."email", CAST(? AS VARCHAR)), false)`, []any{"test"}},
		{"like", `where: { field: email, op: like, value: "%@shop._om" }`,
			`COALESCE("t"."email" LIKE CAST(? AS VARCHAR), false)`, []any{"%@shop._om"}},
		{"notLike", `where: { field: email, op: notLike, value: "%test%" }`,
			`COALESCE("t"."email" NOT LIKE CAST(? AS VARCHAR), false)`, []any{"%test%"}},
		{"not", `where: { not: { field: age, op: eq, value: 1 } }`,
			`(NOT COALESCE("t"."age" = CAST(? AS BIGINT), false))`, []any{int64(1)}},
		{"all any", `where: { all: [ { field: age, op: gte, value: 18 }, { any: [ { field: country, op: eq, value: FR }, { field: tier, op: eq, value: gold } ] } ] }`,
			`(COALESCE("t"."age" >= CAST(? AS BIGINT), false) AND (COALESCE("t"."country" = CAST(? AS VARCHAR), false) OR COALESCE("t"."tier" = CAST(? AS VARCHAR), false)))`,
			[]any{int64(18), "FR", "gold"}},
		{"single all", `where: { all: [ { field: age, op: gte, value: 18 } ] }`,
			`COALESCE("t"."age" >= CAST(? AS BIGINT), false)`, []any{int64(18)}},
		{"date", `where: { field: birthDate, op: lt, value: 2000-01-01 }`,
			`COALESCE("t"."birthDate" < CAST(? AS DATE), false)`, []any{"2000-01-01"}},
		{"timestamp local in Paris winter", `where: { field: lastPurchaseAt, op: lt, value: 2026-01-31T09:00:00 }`,
			`COALESCE("t"."lastPurchaseAt" < CAST(? AS TIMESTAMPTZ), false)`, []any{"2026-01-31T08:00:00Z"}},
		{"timestamp with offset", `where: { field: lastPurchaseAt, op: lt, value: "2026-01-31T09:00:00-05:00" }`,
			`COALESCE("t"."lastPurchaseAt" < CAST(? AS TIMESTAMPTZ), false)`, []any{"2026-01-31T14:00:00Z"}},
		{"date on timestamp in Paris summer", `where: { field: lastPurchaseAt, op: gte, value: 2026-07-01 }`,
			`COALESCE("t"."lastPurchaseAt" >= CAST(? AS TIMESTAMPTZ), false)`, []any{"2026-06-30T22:00:00Z"}},
		// now is 2026-03-29T10:30Z = 12:30 in Paris, the day clocks go forward:
		// 90 calendar days earlier is 2025-12-29 12:30 CET = 11:30Z.
		{"ago calendar days", `where: { field: lastPurchaseAt, op: gt, value: { ago: 90d } }`,
			`COALESCE("t"."lastPurchaseAt" > CAST(? AS TIMESTAMPTZ), false)`, []any{"2025-12-29T11:30:00Z"}},
		{"ago hours", `where: { field: lastPurchaseAt, op: gt, value: { ago: 12h } }`,
			`COALESCE("t"."lastPurchaseAt" > CAST(? AS TIMESTAMPTZ), false)`, []any{"2026-03-28T22:30:00Z"}},
		{"ahead on date", `where: { field: birthDate, op: lte, value: { ahead: 1d } }`,
			`COALESCE("t"."birthDate" <= CAST(? AS DATE), false)`, []any{"2026-03-30"}},
		{"ago week on date", `where: { field: birthDate, op: gt, value: { ago: 1w } }`,
			`COALESCE("t"."birthDate" > CAST(? AS DATE), false)`, []any{"2026-03-22"}},
		{"now between", `where: { field: lastPurchaseAt, op: between, value: [{ ago: 1d }, { now: true }] }`,
			`COALESCE("t"."lastPurchaseAt" BETWEEN CAST(? AS TIMESTAMPTZ) AND CAST(? AS TIMESTAMPTZ), false)`,
			[]any{"2026-03-28T11:30:00Z", "2026-03-29T10:30:00Z"}},
		{"param string", `where: { field: country, op: eq, value: { param: region } }`,
			`COALESCE("t"."country" = CAST(? AS VARCHAR), false)`, []any{"FR"}},
		{"param timestamp local", `where: { field: lastPurchaseAt, op: lt, value: { param: cutoff } }`,
			`COALESCE("t"."lastPurchaseAt" < CAST(? AS TIMESTAMPTZ), false)`, []any{"2026-02-01T07:00:00Z"}},
		{"param date on timestamp", `where: { field: lastPurchaseAt, op: gte, value: { param: since } }`,
			`COALESCE("t"."lastPurchaseAt" >= CAST(? AS TIMESTAMPTZ), false)`, []any{"2025-12-31T23:00:00Z"}},
		{"param date on date", `where: { field: birthDate, op: gte, value: { param: since } }`,
			`COALESCE("t"."birthDate" >= CAST(? AS DATE), false)`, []any{"2026-01-01"}},
		{"param in list", `where: { field: country, op: in, value: [{ param: region }, DE] }`,
			`COALESCE("t"."country" IN (CAST(? AS VARCHAR), CAST(? AS VARCHAR)), false)`, []any{"FR", "DE"}},
		{"variable date", `where: { field: birthDate, op: gte, value: { variable: launch } }`,
			`COALESCE("t"."birthDate" >= CAST(? AS DATE), false)`, []any{"2026-01-15"}},
		{"field ref", `where: { field: balance, op: gt, value: { field: score } }`,
			`COALESCE("t"."balance" > "t"."score", false)`, nil},
		{"one link", `where: { field: store.city, op: eq, value: Paris }`,
			`COALESCE((SELECT max(l1."city") FROM "v_stores" AS l1 WHERE l1."storeId" = "t"."storeId") = CAST(? AS VARCHAR), false)`, []any{"Paris"}},
		{"two one-links", `where: { field: store.region.name, op: isEmpty }`,
			`(COALESCE(length((SELECT max(l2."name") FROM "v_stores" AS l1 JOIN "v_regions" AS l2 ON l2."regionId" = l1."regionId" WHERE l1."storeId" = "t"."storeId")), 0) = 0)`, nil},
		{"field ref through link", `where: { field: country, op: ne, value: { field: store.city } }`,
			`COALESCE("t"."country" <> (SELECT max(l1."city") FROM "v_stores" AS l1 WHERE l1."storeId" = "t"."storeId"), false)`, nil},
		{"exists true", `where: { link: purchases, exists: true }`,
			`EXISTS (SELECT 1 ` + purchases + `)`, nil},
		{"exists cond", `where: { link: purchases, exists: { field: amount, op: gt, value: 100 } }`,
			`EXISTS (SELECT 1 ` + purchases + ` AND COALESCE(l1."amount" > CAST(? AS BIGINT), false))`, []any{int64(100)}},
		{"notExists true", `where: { link: purchases, notExists: true }`,
			`NOT EXISTS (SELECT 1 ` + purchases + `)`, nil},
		{"not notExists", `where: { not: { link: purchases, notExists: { field: channel, op: eq, value: web } } }`,
			`(NOT NOT EXISTS (SELECT 1 ` + purchases + ` AND COALESCE(l1."channel" = CAST(? AS VARCHAR), false)))`, []any{"web"}},
		{"nested links", `where: { link: purchases, exists: { all: [ { field: store.city, op: eq, value: Lyon }, { link: store, exists: { field: openedOn, op: lt, value: 2020-01-01 } } ] } }`,
			`EXISTS (SELECT 1 ` + purchases + ` AND (COALESCE((SELECT max(l2."city") FROM "v_stores" AS l2 WHERE l2."storeId" = l1."storeId") = CAST(? AS VARCHAR), false) AND EXISTS (SELECT 1 FROM "v_stores" AS l3 WHERE l3."storeId" = l1."storeId" AND COALESCE(l3."openedOn" < CAST(? AS DATE), false))))`,
			[]any{"Lyon", "2020-01-01"}},
		{"count", `where: { link: purchases, aggregate: count, op: gte, value: 3 }`,
			`COALESCE(COALESCE((SELECT count(*) ` + purchases + `), 0) >= CAST(? AS BIGINT), false)`, []any{int64(3)}},
		{"count field", `where: { link: purchases, aggregate: count, field: sku, op: eq, value: 0 }`,
			`COALESCE(COALESCE((SELECT count(l1."sku") ` + purchases + `), 0) = CAST(? AS BIGINT), false)`, []any{int64(0)}},
		{"countDistinct", `where: { link: purchases, aggregate: countDistinct, field: sku, op: gt, value: 1 }`,
			`COALESCE(COALESCE((SELECT count(DISTINCT l1."sku") ` + purchases + `), 0) > CAST(? AS BIGINT), false)`, []any{int64(1)}},
		{"sum where", `where: { link: purchases, aggregate: sum, field: amount, op: gt, value: 500, where: { field: purchasedAt, op: gt, value: { ago: 90d } } }`,
			`COALESCE(("t"."customerId") IN (SELECT l1."customerId" FROM "v_purchases" AS l1 WHERE l1."customerId" IS NOT NULL AND COALESCE(l1."purchasedAt" > CAST(? AS TIMESTAMPTZ), false) GROUP BY l1."customerId" HAVING COALESCE(sum(l1."amount") > CAST(? AS BIGINT), false)), false)`,
			[]any{"2025-12-29T11:30:00Z", int64(500)}},
		{"avg vs outer field", `where: { link: purchases, aggregate: avg, field: amount, op: gt, value: { field: score } }`,
			`COALESCE((SELECT avg(l1."amount") ` + purchases + `) > "t"."score", false)`, nil},
		{"max isEmpty", `where: { link: purchases, aggregate: max, field: purchasedAt, op: isEmpty }`,
			`((SELECT max(l1."purchasedAt") ` + purchases + `) IS NULL)`, nil},
		{"min string between", `where: { link: purchases, aggregate: min, field: sku, op: between, value: [A, M] }`,
			`COALESCE(("t"."customerId") IN (SELECT l1."customerId" FROM "v_purchases" AS l1 WHERE l1."customerId" IS NOT NULL GROUP BY l1."customerId" HAVING COALESCE(min(l1."sku") BETWEEN CAST(? AS VARCHAR) AND CAST(? AS VARCHAR), false)), false)`, []any{"A", "M"}},
		{"inAudience", `where: { inAudience: vip-2026 }`,
			`EXISTS (SELECT 1 FROM "aud_vip" AS l1 WHERE l1."customerId" = "t"."customerId")`, nil},
		{"aliases in order", `where: { any: [ { field: store.city, op: eq, value: A }, { inAudience: vip-2026 }, { link: purchases, exists: true } ] }`,
			`(COALESCE((SELECT max(l1."city") FROM "v_stores" AS l1 WHERE l1."storeId" = "t"."storeId") = CAST(? AS VARCHAR), false) OR EXISTS (SELECT 1 FROM "aud_vip" AS l2 WHERE l2."customerId" = "t"."customerId") OR EXISTS (SELECT 1 FROM "v_purchases" AS l3 WHERE l3."customerId" = "t"."customerId"))`,
			[]any{"A"}},
		// Date parts and windows. customers name a time zone column: dates
		// and today are the recipient's, Paris when the zone is unknown.
		{"part month of date", `where: { field: birthDate, part: month, op: eq, value: 12 }`,
			`COALESCE(month("t"."birthDate") = CAST(? AS BIGINT), false)`, []any{int64(12)}},
		{"part weekday of timestamp", `where: { field: lastPurchaseAt, part: weekday, op: in, value: [sat, sun] }`,
			`COALESCE(isodow(CAST(timezone(` + zone + `, CAST("t"."lastPurchaseAt" AS TIMESTAMPTZ)) AS DATE)) IN (CAST(? AS BIGINT), CAST(? AS BIGINT)), false)`,
			[]any{"Europe/Paris", int64(6), int64(7)}},
		{"inLast on timestamp", `where: { field: lastPurchaseAt, op: inLast, within: 30d }`,
			`COALESCE((CAST(timezone(` + zone + `, CAST(? AS TIMESTAMPTZ)) AS DATE) - CAST(timezone(` + zone + `, CAST("t"."lastPurchaseAt" AS TIMESTAMPTZ)) AS DATE)) BETWEEN 0 AND CAST(? AS INTEGER), false)`,
			[]any{"Europe/Paris", "2026-03-29T10:30:00Z", "Europe/Paris", int64(30)}},
		{"inNext on linked rows in the campaign zone", `where: { link: purchases, exists: { field: purchasedAt, op: inNext, within: 1w } }`,
			`EXISTS (SELECT 1 ` + purchases + ` AND COALESCE((CAST(timezone(CAST(? AS VARCHAR), CAST(l1."purchasedAt" AS TIMESTAMPTZ)) AS DATE) - CAST(? AS DATE)) BETWEEN 0 AND CAST(? AS INTEGER), false))`,
			[]any{"Europe/Paris", "2026-03-29", int64(7)}},
		{"anniversary on linked rows", `where: { link: purchases, exists: { field: purchasedAt, op: anniversary } }`,
			`EXISTS (SELECT 1 ` + purchases + ` AND COALESCE(` + pDate + ` < CAST(? AS DATE) AND ((month(` + pDate + `) * 100 + dayofmonth(` + pDate + `)) BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)), false))`,
			[]any{"Europe/Paris", "2026-03-29", "Europe/Paris", "Europe/Paris", int64(329), int64(329)}},
		// In the recipient's zone today is 2026-03-28, 29 or 30; month*100+day
		// follows the calendar within a year, so 31 March to 1 April is one run.
		{"anniversary within", `where: { field: birthDate, op: anniversary, within: 6d }`,
			`CASE CAST(timezone(` + zone + `, CAST(? AS TIMESTAMPTZ)) AS DATE)` +
				` WHEN CAST(? AS DATE) THEN ` + anniv + ` BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)), false)` +
				` WHEN CAST(? AS DATE) THEN ` + anniv + ` BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)), false)` +
				` WHEN CAST(? AS DATE) THEN ` + anniv + ` BETWEEN CAST(? AS INTEGER) AND CAST(? AS INTEGER)), false) ELSE false END`,
			[]any{"Europe/Paris", "2026-03-29T10:30:00Z",
				"2026-03-28", "2026-03-28", int64(328), int64(403),
				"2026-03-29", "2026-03-29", int64(329), int64(404),
				"2026-03-30", "2026-03-30", int64(330), int64(405)}},
	}
	idents := catalogIdents(testCatalog(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustCond(t, tc.doc)
			sql, args, err := ToSQL(c, sqlScope(t))
			if err != nil {
				t.Fatalf("ToSQL: %v", err)
			}
			if sql != tc.sql {
				t.Errorf("sql:\n got %s\nwant %s", sql, tc.sql)
			}
			if !reflect.DeepEqual(args, tc.args) {
				t.Errorf("args:\n got %#v\nwant %#v", args, tc.args)
			}
			if err := checkSQLTokens(sql, len(args), idents); err != nil {
				t.Errorf("tokens: %v", err)
			}
			// Deterministic: lowering twice gives the same text.
			sql2, _, _ := ToSQL(c, sqlScope(t))
			if sql2 != sql {
				t.Errorf("second lowering differs:\n%s\n%s", sql, sql2)
			}
		})
	}
}

func TestToSQLAbsentParamIsNull(t *testing.T) {
	sc := sqlScope(t)
	sc.Params = map[string]any{} // optional parameters without value
	sql, args, err := ToSQL(mustCond(t, `where: { field: age, op: ne, value: { param: discount } }`), sc)
	if err != nil {
		t.Fatal(err)
	}
	if sql != `COALESCE("t"."age" <> CAST(? AS DOUBLE), false)` || len(args) != 1 || args[0] != nil {
		t.Errorf("got %s %#v", sql, args)
	}
}

func TestToSQLQuotesIdentifiers(t *testing.T) {
	sc := sqlScope(t)
	sc.Schema = campaign.Schema{Columns: []campaign.Column{{Name: `we"ird name`, Type: campaign.TypeString}}}
	sc.Alias = `my"alias`
	sql, _, err := ToSQL(&Condition{Field: `we"ird name`, Op: "eq", Value: &Value{Literal: "x"}}, sc)
	if err != nil {
		t.Fatal(err)
	}
	if want := `COALESCE("my""alias"."we""ird name" = CAST(? AS VARCHAR), false)`; sql != want {
		t.Errorf("got %s\nwant %s", sql, want)
	}
}

func TestToSQLErrors(t *testing.T) {
	base := sqlScope(t)
	cases := []struct {
		name  string
		c     *Condition
		scope func(*SQLScope)
		want  string
	}{
		{"unknown field", &Condition{Field: `nope" OR 1=1 --`, Op: "eq", Value: &Value{Literal: "x"}}, nil, `unknown column "nope\" OR 1=1 --"`},
		{"unknown value field", &Condition{Field: "age", Op: "eq", Value: &Value{Field: "ghost"}}, nil, `unknown column "ghost"`},
		{"unknown link", &Condition{Link: "orders", Exists: &Exists{Any: true}}, nil, `unknown link "orders"`},
		{"bad type", &Condition{Field: "age", Op: "eq", Value: &Value{Literal: "1; DROP"}}, nil, `needs a number`},
		{"no op", &Condition{Field: "age"}, nil, "missing op"},
		{"two forms", &Condition{Field: "age", Op: "isEmpty", InAudience: "vip-2026"}, nil, "exactly one form"},
		{"run fact", &Condition{Count: "lapsed", Op: "gt", Value: &Value{Literal: int64(1)}}, nil, "run fact"},
		{"nil", nil, nil, "no condition"},
		{"unknown schema", &Condition{Field: "age", Op: "isEmpty"}, func(s *SQLScope) { s.Schema = campaign.Schema{Dimension: "customers"} }, "columns are unknown"},
		{"alias clash", &Condition{Field: "age", Op: "isEmpty"}, func(s *SQLScope) { s.Alias = "l1" }, "clashes"},
		{"no alias", &Condition{Field: "age", Op: "isEmpty"}, func(s *SQLScope) { s.Alias = "" }, "Alias is empty"},
		{"relation error", &Condition{Link: "purchases", Exists: &Exists{Any: true}}, func(s *SQLScope) {
			s.Relation = func(string) (string, error) { return "", errors.New("not staged") }
		}, `relation of table "purchases": not staged`},
		{"audience error", &Condition{InAudience: "other"}, nil, `audience "other": no audience "other"`},
		{"audience key", &Condition{InAudience: "vip-2026"}, func(s *SQLScope) {
			s.Audience = func(string) (AudienceRelation, error) { return AudienceRelation{Relation: "a"}, nil }
		}, "has key"},
		{"no now", &Condition{Field: "birthDate", Op: "lt", Value: &Value{Ago: "1d"}}, func(s *SQLScope) { s.Now = time.Time{} }, "need SQLScope.Now"},
		{"bad run param", &Condition{Field: "age", Op: "gt", Value: &Value{Param: "discount"}}, func(s *SQLScope) { s.Params = map[string]any{"discount": "ten"} }, `parameter "discount": ten is not a valid integer`},
		{"bad run date param", &Condition{Field: "birthDate", Op: "gt", Value: &Value{Param: "since"}}, func(s *SQLScope) { s.Params = map[string]any{"since": "'; DROP TABLE x; --"} }, `parameter "since"`},
		{"nul identifier", &Condition{Field: "a\x00b", Op: "isEmpty"}, func(s *SQLScope) {
			s.Schema = campaign.Schema{Columns: []campaign.Column{{Name: "a\x00b", Type: campaign.TypeString}}}
		}, "invalid identifier"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := base
			if tc.scope != nil {
				tc.scope(&sc)
			}
			sql, args, err := ToSQL(tc.c, sc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want error containing %q, got %v (sql %q)", tc.want, err, sql)
			}
			if sql != "" || args != nil {
				t.Errorf("an error must come without SQL: %q %v", sql, args)
			}
		})
	}
}

var hostileStrings = []string{
	`'; DROP TABLE customers; --`,
	`' OR '1'='1`,
	`" OR 1=1 --`,
	`') OR 1=1 --`,
	`)) OR 1=1; --`,
	`*/ OR 1=1 /*`,
	`/* comment */`,
	`-- comment`,
	`\'; SELECT 1; --`,
	"\u202e' OR ''='",              // right-to-left override
	"\u200f\u05d0' --",             // RTL mark, Hebrew
	"العربية'); --",                // Arabic
	"\ufeff\u200b'zero width",      // BOM, zero-width space
	"tab\tnew\nline\rcr'",          // control characters
	`"email"`,                      // looks like a quoted column
	`customers.email`,              // looks like a qualified column
	`"t"."email"`,                  // looks like an aliased column
	`%_' ESCAPE '\`,                // LIKE metacharacters
	`$1 :name @p ?`,                // other placeholder styles
	`CAST(? AS VARCHAR)`,           // our own SQL
	"COALESCE(\"t\".\"x\", false)", // our own SQL
}

// TestToSQLHostileValues feeds hostile strings everywhere a value is
// accepted and asserts that they reach args only: the SQL text is the same
// as with a harmless value, is made of catalog identifiers and fixed tokens
// only, and (unless the string is itself a piece of that fixed text, like
// `"email"`) does not contain the string.
func TestToSQLHostileValues(t *testing.T) {
	idents := catalogIdents(testCatalog(t))
	lit := func(s string) *Value { return &Value{Literal: s} }
	accepted := map[string]func(h string) *Condition{
		"eq": func(h string) *Condition { return &Condition{Field: "email", Op: "eq", Value: lit(h)} },
		"ne": func(h string) *Condition { return &Condition{Field: "email", Op: "ne", Value: lit(h)} },
		"gt": func(h string) *Condition { return &Condition{Field: "email", Op: "gt", Value: lit(h)} },
		"in": func(h string) *Condition {
			return &Condition{Field: "email", Op: "in", Value: &Value{IsList: true, List: []*Value{lit("x"), lit(h)}}}
		},
		"notIn": func(h string) *Condition {
			return &Condition{Field: "email", Op: "notIn", Value: &Value{IsList: true, List: []*Value{lit(h)}}}
		},
		"between": func(h string) *Condition {
			return &Condition{Field: "email", Op: "between", Value: &Value{IsList: true, List: []*Value{lit(h), lit(h + "z")}}}
		},
		"like":        func(h string) *Condition { return &Condition{Field: "email", Op: "like", Value: lit(h)} },
		"notLike":     func(h string) *Condition { return &Condition{Field: "email", Op: "notLike", Value: lit(h)} },
		"startsWith":  func(h string) *Condition { return &Condition{Field: "email", Op: "startsWith", Value: lit(h)} },
		"notContains": func(h string) *Condition { return &Condition{Field: "email", Op: "notContains", Value: lit(h)} },
		"param":       func(string) *Condition { return &Condition{Field: "email", Op: "eq", Value: &Value{Param: "region"}} },
		"variable": func(string) *Condition {
			return &Condition{Field: "email", Op: "eq", Value: &Value{Variable: "hostile"}}
		},
		"variable list": func(string) *Condition {
			return &Condition{Field: "email", Op: "in", Value: &Value{Variable: "hostiles"}}
		},
		"through link": func(h string) *Condition { return &Condition{Field: "store.city", Op: "eq", Value: lit(h)} },
		"exists": func(h string) *Condition {
			return &Condition{Link: "purchases", Exists: &Exists{Cond: &Condition{Field: "sku", Op: "contains", Value: lit(h)}}}
		},
		"aggregate": func(h string) *Condition {
			return &Condition{Link: "purchases", Aggregate: "min", Field: "sku", Op: "eq", Value: lit(h), Where: &Condition{Field: "sku", Op: "ne", Value: lit(h)}}
		},
		"not": func(h string) *Condition {
			return &Condition{Not: &Condition{Field: "firstName", Op: "eq", Value: lit(h)}}
		},
	}
	scopeWith := func(h string) SQLScope {
		sc := sqlScope(t)
		sc.Params = map[string]any{"region": h}
		sc.Variables = map[string]any{"hostile": h, "hostiles": []any{h, "x"}}
		return sc
	}
	for i, h := range hostileStrings {
		for _, name := range sortedKeys(accepted) {
			t.Run(fmt.Sprintf("%d/%s", i, name), func(t *testing.T) {
				sql, args, err := ToSQL(accepted[name](h), scopeWith(h))
				if err != nil {
					t.Fatalf("ToSQL: %v", err)
				}
				neutral, _, err := ToSQL(accepted[name]("harmless"), scopeWith("harmless"))
				if err != nil {
					t.Fatalf("ToSQL: %v", err)
				}
				if sql != neutral {
					t.Errorf("the value changed the SQL text:\n%s\n%s", sql, neutral)
				}
				if strings.Contains(sql, h) && !strings.Contains(neutral, h) {
					t.Errorf("value reached the SQL text: %s", sql)
				}
				if !containsArg(args, h) {
					t.Errorf("value missing from args: %#v", args)
				}
				if err := checkSQLTokens(sql, len(args), idents); err != nil {
					t.Errorf("tokens: %v\n%s", err, sql)
				}
			})
		}
		// Where a value must be a date, a time, a number, an enum value or a
		// duration, and where a name is expected, hostile text is rejected
		// before any SQL is produced.
		rejected := map[string]*Condition{
			"date":          {Field: "birthDate", Op: "eq", Value: lit(h)},
			"timestamp":     {Field: "lastPurchaseAt", Op: "lt", Value: lit(h)},
			"ago":           {Field: "lastPurchaseAt", Op: "gt", Value: &Value{Ago: h}},
			"ahead":         {Field: "birthDate", Op: "lt", Value: &Value{Ahead: h}},
			"integer":       {Field: "age", Op: "eq", Value: lit(h)},
			"enum":          {Field: "tier", Op: "eq", Value: lit(h)},
			"date param":    {Field: "birthDate", Op: "eq", Value: &Value{Param: "since"}},
			"field name":    {Field: h, Op: "eq", Value: lit("x")},
			"value field":   {Field: "email", Op: "eq", Value: &Value{Field: h}},
			"link name":     {Link: h, Exists: &Exists{Any: true}},
			"agg field":     {Link: "purchases", Aggregate: "max", Field: h, Op: "isEmpty"},
			"aggregate fn":  {Link: "purchases", Aggregate: h, Field: "amount", Op: "isEmpty"},
			"operator":      {Field: "email", Op: h, Value: lit("x")},
			"param name":    {Field: "email", Op: "eq", Value: &Value{Param: h}},
			"variable name": {Field: "email", Op: "eq", Value: &Value{Variable: h}},
		}
		sc := sqlScope(t)
		sc.Params = map[string]any{"since": h}
		for _, name := range sortedKeys(rejected) {
			t.Run(fmt.Sprintf("%d/rejected %s", i, name), func(t *testing.T) {
				sql, args, err := ToSQL(rejected[name], sc)
				if err == nil {
					t.Fatalf("accepted: %s %#v", sql, args)
				}
			})
		}
		// An audience name never reaches SQL: the relation comes from the
		// scope.
		t.Run(fmt.Sprintf("%d/audience", i), func(t *testing.T) {
			sc := sqlScope(t)
			sc.Audience = func(string) (AudienceRelation, error) {
				return AudienceRelation{Relation: "aud_vip", Key: []string{"customerId"}}, nil
			}
			sql, args, err := ToSQL(&Condition{InAudience: h}, sc)
			if err != nil {
				t.Fatal(err)
			}
			if sql != `EXISTS (SELECT 1 FROM "aud_vip" AS l1 WHERE l1."customerId" = "t"."customerId")` || checkSQLTokens(sql, len(args), idents) != nil {
				t.Errorf("audience name in SQL: %s", sql)
			}
		})
	}
}

func containsArg(args []any, s string) bool {
	for _, a := range args {
		if a == s {
			return true
		}
	}
	return false
}

func TestFieldAndAggregateSQL(t *testing.T) {
	sc := sqlScope(t)
	expr, col, err := FieldSQL("store.city", sc)
	if err != nil || col.Type != campaign.TypeString ||
		expr != `(SELECT max(l1."city") FROM "v_stores" AS l1 WHERE l1."storeId" = "t"."storeId")` {
		t.Errorf("FieldSQL: %s %v %v", expr, col, err)
	}
	if _, _, err := FieldSQL("purchases.amount", sc); err == nil || !strings.Contains(err.Error(), "one-to-many") {
		t.Errorf("FieldSQL many link: %v", err)
	}
	where := mustCond(t, `where: { field: purchasedAt, op: gt, value: { ago: 90d } }`)
	expr, args, typ, err := AggregateSQL("purchases", "count", "", where, sc)
	if err != nil || typ != campaign.TypeInteger ||
		expr != `COALESCE((SELECT count(*) FROM "v_purchases" AS l1 WHERE l1."customerId" = "t"."customerId" AND COALESCE(l1."purchasedAt" > CAST(? AS TIMESTAMPTZ), false)), 0)` ||
		!reflect.DeepEqual(args, []any{"2025-12-29T11:30:00Z"}) {
		t.Errorf("AggregateSQL: %s %#v %s %v", expr, args, typ, err)
	}
	if _, _, _, err := AggregateSQL("purchases", "sum", "sku", nil, sc); err == nil || !strings.Contains(err.Error(), "numeric") {
		t.Errorf("AggregateSQL sum of string: %v", err)
	}
}

// The anniversary window's month-day runs: 29 February falls on 28 February
// in years without it; a window across New Year is two runs.
func TestAnniversaryRuns(t *testing.T) {
	d := frag{sql: "d"}
	cases := []struct {
		today string
		days  int
		want  []any // today, then low/high of each run
	}{
		{"2027-02-28", 0, []any{"2027-02-28", int64(228), int64(229)}},
		{"2028-02-28", 0, []any{"2028-02-28", int64(228), int64(228)}},
		{"2028-02-29", 0, []any{"2028-02-29", int64(229), int64(229)}},
		{"2027-03-01", 0, []any{"2027-03-01", int64(301), int64(301)}},
		{"2027-02-25", 3, []any{"2027-02-25", int64(225), int64(229)}},
		{"2027-02-25", 4, []any{"2027-02-25", int64(225), int64(301)}},
		{"2026-12-29", 6, []any{"2026-12-29", int64(101), int64(104), int64(1229), int64(1231)}},
		{"2026-06-01", 364, []any{"2026-06-01", int64(101), int64(1231)}},
	}
	for _, tc := range cases {
		today, _ := time.Parse("2006-01-02", tc.today)
		f := anniversaryOn(DuckDB, d, today, tc.days)
		if !reflect.DeepEqual(f.args, tc.want) {
			t.Errorf("%s +%dd: args %v, want %v", tc.today, tc.days, f.args, tc.want)
		}
		if n := strings.Count(f.sql, "?"); n != len(f.args) {
			t.Errorf("%s: %d placeholders for %d args", tc.today, n, len(f.args))
		}
	}
}
