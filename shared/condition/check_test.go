package condition

import (
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

type diagWant struct {
	path, msg string
	warning   bool
}

func runCheck(t *testing.T, doc string, env CheckEnv) campaign.Diagnostics {
	t.Helper()
	c, src, diags := parseCond(t, doc)
	d := campaign.Reporter{Src: src, Diags: &diags}
	Check(d, "where", c, env)
	return diags
}

func hasDiag(diags campaign.Diagnostics, w diagWant) bool {
	for _, d := range diags {
		if d.Path == w.path && strings.Contains(d.Message, w.msg) && (d.Severity == campaign.Warning) == w.warning {
			return true
		}
	}
	return false
}

func TestCheckValid(t *testing.T) {
	enriched := populationEnv(t)
	enriched.Schema = enriched.Schema.With(campaign.Column{Name: "spend90d", Type: campaign.TypeDecimal})
	cases := []struct {
		name string
		doc  string
		env  CheckEnv
	}{
		{"eq string", `where: { field: country, op: eq, value: FR }`, populationEnv(t)},
		{"birthday today", `where: { field: birthDate, op: anniversary }`, populationEnv(t)},
		{"birthday this week", `where: { field: birthDate, op: anniversary, within: 1w }`, populationEnv(t)},
		{"anniversary 0d", `where: { field: lastPurchaseAt, op: anniversary, within: 0d }`, populationEnv(t)},
		{"in last 30 days", `where: { field: lastPurchaseAt, op: inLast, within: 30d }`, populationEnv(t)},
		{"in next 2 weeks through a link", `where: { field: store.openedOn, op: inNext, within: 2w }`, populationEnv(t)},
		{"month in", `where: { field: birthDate, part: month, op: in, value: [12, 1, 2] }`, populationEnv(t)},
		{"month param", `where: { field: birthDate, part: month, op: eq, value: { param: discount } }`, populationEnv(t)},
		{"year between", `where: { field: birthDate, part: year, op: between, value: [1980, 1989] }`, populationEnv(t)},
		{"weekday notIn", `where: { field: lastPurchaseAt, part: weekday, op: notIn, value: [sat, sun] }`, populationEnv(t)},
		{"not anniversary", `where: { not: { field: birthDate, op: anniversary } }`, populationEnv(t)},
		{"in list", `where: { field: country, op: in, value: [FR, DE] }`, populationEnv(t)},
		{"in variable list", `where: { field: country, op: notIn, value: { variable: countries } }`, populationEnv(t)},
		{"enum", `where: { field: tier, op: in, value: [gold, silver] }`, populationEnv(t)},
		{"enum pattern not checked", `where: { field: tier, op: startsWith, value: go }`, populationEnv(t)},
		{"integer float", `where: { field: age, op: gt, value: 30.5 }`, populationEnv(t)},
		{"between", `where: { field: age, op: between, value: [18, { variable: minAge }] }`, populationEnv(t)},
		{"decimal param", `where: { field: balance, op: gte, value: { param: discount } }`, populationEnv(t)},
		{"bool", `where: { field: emailOptIn, op: eq, value: true }`, populationEnv(t)},
		{"date", `where: { field: birthDate, op: lt, value: 2000-01-01 }`, populationEnv(t)},
		{"date quoted", `where: { field: birthDate, op: lt, value: "2000-01-01" }`, populationEnv(t)},
		{"date param", `where: { field: birthDate, op: gte, value: { param: since } }`, populationEnv(t)},
		{"date variable", `where: { field: birthDate, op: gte, value: { variable: launch } }`, populationEnv(t)},
		{"timestamp literal local", `where: { field: lastPurchaseAt, op: lt, value: 2026-01-31T09:00:00 }`, populationEnv(t)},
		{"timestamp date", `where: { field: lastPurchaseAt, op: lt, value: 2026-01-31 }`, populationEnv(t)},
		{"timestamp date param", `where: { field: lastPurchaseAt, op: lt, value: { param: since } }`, populationEnv(t)},
		{"ago", `where: { field: lastPurchaseAt, op: gt, value: { ago: 90d } }`, populationEnv(t)},
		{"ahead date", `where: { field: birthDate, op: lte, value: { ahead: 1w2d } }`, populationEnv(t)},
		{"now", `where: { field: lastPurchaseAt, op: lt, value: { now: true } }`, populationEnv(t)},
		{"field ref numeric", `where: { field: balance, op: gt, value: { field: score } }`, populationEnv(t)},
		{"isEmpty json", `where: { field: prefs, op: isEmpty }`, populationEnv(t)},
		{"one link", `where: { field: store.city, op: eq, value: Paris }`, populationEnv(t)},
		{"two one-links", `where: { field: store.region.name, op: eq, value: North }`, populationEnv(t)},
		{"exists true", `where: { link: purchases, exists: true }`, populationEnv(t)},
		{"exists cond", `where: { link: purchases, exists: { all: [ { field: amount, op: gt, value: 100 }, { field: store.city, op: eq, value: Lyon } ] } }`, populationEnv(t)},
		{"notExists", `where: { link: purchases, notExists: { field: channel, op: eq, value: web } }`, populationEnv(t)},
		{"nested link", `where: { link: purchases, exists: { link: store, exists: { field: city, op: eq, value: Lyon } } }`, populationEnv(t)},
		{"count", `where: { link: purchases, aggregate: count, op: gte, value: 3 }`, populationEnv(t)},
		{"count field", `where: { link: purchases, aggregate: count, field: sku, op: gte, value: 3 }`, populationEnv(t)},
		{"sum where", `where: { link: purchases, aggregate: sum, field: amount, op: gt, value: 500, where: { field: purchasedAt, op: gt, value: { ago: 90d } } }`, populationEnv(t)},
		{"max timestamp", `where: { link: purchases, aggregate: max, field: purchasedAt, op: lt, value: { ago: 30d } }`, populationEnv(t)},
		{"min string", `where: { link: purchases, aggregate: min, field: sku, op: eq, value: A1 }`, populationEnv(t)},
		{"aggregate vs outer field", `where: { link: purchases, aggregate: avg, field: amount, op: gt, value: { field: score } }`, populationEnv(t)},
		{"inAudience", `where: { inAudience: vip-2026 }`, populationEnv(t)},
		{"enriched column", `where: { field: spend90d, op: gte, value: 500 }`, enriched},
		{"not any", `where: { not: { any: [ { field: age, op: lt, value: 18 }, { field: email, op: isEmpty } ] } }`, populationEnv(t)},
		{"test count", `where: { count: byValue.vip, op: gt, value: 1000 }`, testEnv(t)},
		{"test param", `where: { param: region, op: in, value: [FR, { variable: season }] }`, testEnv(t)},
		{"test param like", `where: { param: region, op: like, value: "F%" }`, testEnv(t)},
		{"test variable", `where: { variable: season, op: eq, value: winter }`, testEnv(t)},
		{"test weekday", `where: { weekday: [mon, tue] }`, testEnv(t)},
		{"test hour", `where: { hour: { op: between, value: [9, 17] } }`, testEnv(t)},
		{"test count activated", `where: { count: lapsed, op: isNotEmpty }`, testEnv(t)},
		{"test timestamp param", `where: { param: cutoff, op: lt, value: 2026-02-01T00:00:00Z }`, testEnv(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diags := runCheck(t, tc.doc, tc.env); diags.HasErrors() {
				t.Errorf("unexpected diagnostics:\n%v", diags)
			}
		})
	}
}

func TestCheckInvalid(t *testing.T) {
	pop := populationEnv(t)
	test := testEnv(t)
	files := pop
	files.Schema = campaign.Schema{Columns: []campaign.Column{{Name: "email", Type: campaign.TypeString}, {Name: "points", Type: campaign.TypeInteger}}}
	cases := []struct {
		name string
		doc  string
		env  CheckEnv
		want diagWant
	}{
		// forms
		{"two forms", `where: { all: [ { field: age, op: eq, value: 1 } ], field: age, op: eq, value: 2 }`, pop, diagWant{"where", "exactly one form, this one mixes all and field", false}},
		{"empty", `where: {}`, pop, diagWant{"where", "empty condition; use one of: all, any, not, field", false}},
		{"no subject", `where: { op: eq, value: 1 }`, pop, diagWant{"where", "a comparison needs a subject", false}},
		{"empty all", `where: { all: [] }`, pop, diagWant{"where.all", "all needs at least one condition", false}},
		{"stray where", `where: { field: age, op: eq, value: 1, where: { field: age, op: eq, value: 1 } }`, pop, diagWant{"where.where", "where is not used in a field condition", false}},
		{"stray op on all", `where: { any: [ { field: age, op: eq, value: 1 } ], op: eq }`, pop, diagWant{"where.op", "op is not used in an any condition", false}},
		{"run fact in population", `where: { count: lapsed, op: gt, value: 1 }`, pop, diagWant{"where.count", "count is a run fact, only valid in a test activity", false}},
		{"field in test", `where: { field: age, op: gt, value: 1 }`, test, diagWant{"where.field", "field conditions need a population", false}},

		// columns and links
		{"unknown column", `where: { field: emial, op: eq, value: x }`, pop, diagWant{"where.field", `unknown column "emial" in customers rows (did you mean "email"?)`, false}},
		{"unknown column list", `where: { field: zzzzzzzz, op: eq, value: x }`, pop, diagWant{"where.field", `unknown column "zzzzzzzz" in customers rows; columns: customerId, email`, false}},
		{"link as field", `where: { field: purchases, op: eq, value: x }`, pop, diagWant{"where.field", `"purchases" is a link of customers, not a column`, false}},
		{"unknown link in path", `where: { field: stor.city, op: eq, value: x }`, pop, diagWant{"where.field", `unknown link "stor" of customers in "stor.city" (did you mean "store"?)`, false}},
		{"many link in path", `where: { field: purchases.amount, op: gt, value: 1 }`, pop, diagWant{"where.field", `link "purchases" of customers is one-to-many: a field can only go through a cardinality-one link; use { link: purchases, exists: <condition> } or an aggregate`, false}},
		{"column through link", `where: { field: store.cty, op: eq, value: x }`, pop, diagWant{"where.field", `unknown column "cty" in stores rows (through link "store") (did you mean "city"?)`, false}},
		{"file rows no links", `where: { field: store.city, op: eq, value: x }`, files, diagWant{"where.field", `unknown column "store.city" in file rows; columns: email, points (file rows have no links)`, false}},
		{"file rows link", `where: { link: purchases, exists: true }`, files, diagWant{"where.link", "file rows have no links", false}},
		{"unknown link", `where: { link: purchase, exists: true }`, pop, diagWant{"where.link", `unknown link "purchase" of customers (did you mean "purchases"?)`, false}},
		{"unknown link list", `where: { link: orders, exists: true }`, pop, diagWant{"where.link", `unknown link "orders" of customers; valid: purchases, store`, false}},
		{"exists without link", `where: { exists: true }`, pop, diagWant{"where", "missing link: name the link of customers rows to follow", false}},
		{"stray value on weekday", `where: { weekday: [mon], value: 1 }`, test, diagWant{"where.value", "value is not used in a weekday condition", false}},
		{"link no kind", `where: { link: purchases }`, pop, diagWant{"where", "needs exactly one of exists, notExists or aggregate", false}},
		{"link two kinds", `where: { link: purchases, exists: true, aggregate: count, op: gt, value: 1 }`, pop, diagWant{"where", "needs exactly one of exists, notExists or aggregate", false}},
		{"link field without aggregate", `where: { link: purchases, exists: true, field: amount }`, pop, diagWant{"where.field", "field is only used with aggregate in a link condition", false}},
		{"exists linked schema", `where: { link: purchases, exists: { field: email, op: eq, value: x } }`, pop, diagWant{"where.exists.field", `unknown column "email" in purchases rows (through link "purchases")`, false}},
		{"notExists linked schema", `where: { link: purchases, notExists: { all: [ { field: amount, op: gt, value: 1 }, { field: amuont, op: gt, value: 1 } ] } }`, pop, diagWant{"where.notExists.all[1].field", `(did you mean "amount"?)`, false}},
		{"nested link scope", `where: { link: purchases, exists: { link: store, exists: { field: amount, op: gt, value: 1 } } }`, pop, diagWant{"where.exists.exists.field", `unknown column "amount" in stores rows (through link "store")`, false}},

		// aggregates
		{"aggregate unknown", `where: { link: purchases, aggregate: total, op: gt, value: 1 }`, pop, diagWant{"where.aggregate", `unknown aggregate "total"; valid: count, countDistinct, sum, avg, min, max`, false}},
		{"aggregate needs field", `where: { link: purchases, aggregate: sum, op: gt, value: 1 }`, pop, diagWant{"where", "aggregate sum needs field: a column of purchases", false}},
		{"countDistinct needs field", `where: { link: purchases, aggregate: countDistinct, op: gt, value: 1 }`, pop, diagWant{"where", "aggregate countDistinct needs field", false}},
		{"aggregate unknown field", `where: { link: purchases, aggregate: sum, field: amout, op: gt, value: 1 }`, pop, diagWant{"where.field", `unknown column "amout" in purchases rows (through link "purchases") (did you mean "amount"?)`, false}},
		{"sum of string", `where: { link: purchases, aggregate: sum, field: sku, op: gt, value: 1 }`, pop, diagWant{"where.field", `sum needs a numeric column (integer, number, decimal); "sku" is a string`, false}},
		{"avg of timestamp", `where: { link: purchases, aggregate: avg, field: purchasedAt, op: gt, value: 1 }`, pop, diagWant{"where.field", "avg needs a numeric column", false}},
		{"max of boolean", `where: { link: purchases, aggregate: max, field: returned, op: eq, value: true }`, pop, diagWant{"where.field", `max needs a numeric, date, timestamp or string column; "returned" is a boolean`, false}},
		{"aggregate where linked schema", `where: { link: purchases, aggregate: count, op: gt, value: 1, where: { field: country, op: eq, value: FR } }`, pop, diagWant{"where.where.field", `unknown column "country" in purchases rows`, false}},
		{"count value type", `where: { link: purchases, aggregate: count, op: gte, value: many }`, pop, diagWant{"where.value", `needs a number, got "many"`, false}},
		{"count no op", `where: { link: purchases, aggregate: count }`, pop, diagWant{"where", "missing op; valid for count of purchases rows", false}},
		{"min timestamp vs number", `where: { link: purchases, aggregate: min, field: purchasedAt, op: lt, value: 5 }`, pop, diagWant{"where.value", "min(purchasedAt) needs a timestamp", false}},

		// operators
		{"missing op", `where: { field: age }`, pop, diagWant{"where", "missing op; valid for integer column \"age\": eq, ne, gt", false}},
		{"unknown op", `where: { field: age, op: notin, value: [1] }`, pop, diagWant{"where.op", `unknown operator "notin" (did you mean "notIn"?)`, false}},
		{"op for type", `where: { field: age, op: startsWith, value: 1 }`, pop, diagWant{"where.op", `operator startsWith does not apply to integer column "age"; valid: eq, ne, gt, gte, lt, lte, in, notIn, between, isEmpty, isNotEmpty`, false}},
		{"like on date", `where: { field: birthDate, op: like, value: "2000%" }`, pop, diagWant{"where.op", `operator like does not apply to date column "birthDate"`, false}},
		{"gt on boolean", `where: { field: emailOptIn, op: gt, value: true }`, pop, diagWant{"where.op", `operator gt does not apply to boolean column "emailOptIn"; valid: eq, ne, in, notIn, isEmpty, isNotEmpty`, false}},
		{"eq on json", `where: { field: prefs, op: eq, value: x }`, pop, diagWant{"where.op", `operator eq does not apply to json column "prefs"; valid: isEmpty, isNotEmpty`, false}},
		{"in scalar", `where: { field: country, op: in, value: FR }`, pop, diagWant{"where.value", "in needs a list of values, e.g. [a, b]", false}},
		{"in empty", `where: { field: country, op: notIn, value: [] }`, pop, diagWant{"where.value", "notIn needs at least one value", false}},
		{"in missing", `where: { field: country, op: in }`, pop, diagWant{"where", "in needs a list of values", false}},
		{"between three", `where: { field: age, op: between, value: [1, 2, 3] }`, pop, diagWant{"where.value", "between needs exactly two values [low, high], got 3", false}},
		{"between scalar", `where: { field: age, op: between, value: 3 }`, pop, diagWant{"where.value", "between needs a list of two values [low, high]", false}},
		{"between variable not pair", `where: { field: country, op: between, value: { variable: season } }`, pop, diagWant{"where.value", `variable "season" is "winter"`, false}},
		{"isEmpty value", `where: { field: email, op: isEmpty, value: x }`, pop, diagWant{"where.value", "isEmpty takes no value", false}},
		{"eq list", `where: { field: country, op: eq, value: [FR, DE] }`, pop, diagWant{"where.value", "eq takes one value, not a list (use in for a list)", false}},
		{"eq no value", `where: { field: country, op: eq }`, pop, diagWant{"where", "eq needs a value; to test for a missing value use isEmpty or isNotEmpty", false}},
		{"eq null", `where: { field: country, op: eq, value: null }`, pop, diagWant{"where", "eq needs a value", false}},

		// literal types
		{"integer vs string", `where: { field: age, op: eq, value: abc }`, pop, diagWant{"where.value", `integer column "age" needs a number, got "abc"`, false}},
		{"string vs number", `where: { field: country, op: eq, value: 75001 }`, pop, diagWant{"where.value", `string column "country" needs a string, got 75001; write it in quotes: "75001"`, false}},
		{"boolean vs string", `where: { field: emailOptIn, op: eq, value: yes }`, pop, diagWant{"where.value", `boolean column "emailOptIn" needs true or false, got "yes"`, false}},
		{"date bad", `where: { field: birthDate, op: eq, value: 31/01/2000 }`, pop, diagWant{"where.value", `date column "birthDate" needs a date (YYYY-MM-DD), got "31/01/2000"`, false}},
		{"date month", `where: { field: birthDate, op: eq, value: "2000-13-01" }`, pop, diagWant{"where.value", `needs a date (YYYY-MM-DD)`, false}},
		{"date vs timestamp", `where: { field: birthDate, op: eq, value: 2000-01-01T10:00:00Z }`, pop, diagWant{"where.value", `needs a date (YYYY-MM-DD), got "2000-01-01T10:00:00Z"`, false}},
		{"timestamp bad", `where: { field: lastPurchaseAt, op: gt, value: yesterday }`, pop, diagWant{"where.value", `timestamp column "lastPurchaseAt" needs a timestamp (RFC 3339`, false}},
		{"enum", `where: { field: tier, op: eq, value: platinum }`, pop, diagWant{"where.value", `"platinum" is not a value of string column "tier"; valid: bronze, silver, gold`, false}},
		{"enum typo", `where: { field: tier, op: ne, value: gld }`, pop, diagWant{"where.value", `"gld" is not a value of string column "tier" (did you mean "gold"?)`, false}},
		{"enum list item", `where: { field: tier, op: in, value: [gold, plat] }`, pop, diagWant{"where.value[1]", `"plat" is not a value`, false}},
		{"enum through link", `where: { link: purchases, exists: { field: channel, op: eq, value: phone } }`, pop, diagWant{"where.exists.value", `"phone" is not a value of string column "channel"; valid: web, store`, false}},
		{"null in list", `where: { field: country, op: in, value: [FR, null] }`, pop, diagWant{"where.value[1]", "null is not a value; to test for a missing value use isEmpty", false}},
		{"infinite", `where: { field: score, op: lt, value: .inf }`, pop, diagWant{"where.value", "not a finite number", false}},

		// references
		{"unknown param", `where: { field: country, op: eq, value: { param: regoin } }`, pop, diagWant{"where.value.param", `unknown parameter "regoin" (did you mean "region"?); declared: cutoff, discount, ratio, region, since, vipOnly`, false}},
		{"param type", `where: { field: country, op: eq, value: { param: discount } }`, pop, diagWant{"where.value.param", `parameter "discount" is an integer; string column "country" needs a string`, false}},
		{"timestamp param vs date", `where: { field: birthDate, op: eq, value: { param: cutoff } }`, pop, diagWant{"where.value.param", `parameter "cutoff" is a timestamp; date column "birthDate" needs a date`, false}},
		{"param pattern", `where: { field: email, op: contains, value: { param: discount } }`, pop, diagWant{"where.value.param", `contains needs a string pattern; parameter "discount" is an integer`, false}},
		{"unknown variable", `where: { field: country, op: eq, value: { variable: seasn } }`, pop, diagWant{"where.value.variable", `unknown variable "seasn" (did you mean "season"?)`, false}},
		{"variable type", `where: { field: age, op: gt, value: { variable: season } }`, pop, diagWant{"where.value", `variable "season" is "winter"; integer column "age" needs a number`, false}},
		{"variable list eq", `where: { field: country, op: eq, value: { variable: countries } }`, pop, diagWant{"where.value.variable", `variable "countries" is a list; eq takes one value (use in for a list)`, false}},
		{"variable list item type", `where: { field: age, op: in, value: { variable: countries } }`, pop, diagWant{"where.value", `variable "countries" holds "FR"; integer column "age" needs a number`, false}},
		{"variable null", `where: { field: country, op: eq, value: { variable: nothing } }`, pop, diagWant{"where.value", `variable "nothing" is null`, false}},
		{"variable object", `where: { field: country, op: eq, value: { variable: nested } }`, pop, diagWant{"where.value.variable", `variable "nested": a map[string]interface {} is not a value`, false}},
		{"field ref unknown", `where: { field: age, op: gt, value: { field: scor } }`, pop, diagWant{"where.value.field", `unknown column "scor" in customers rows (did you mean "score"?)`, false}},
		{"field ref type", `where: { field: age, op: gt, value: { field: email } }`, pop, diagWant{"where.value.field", `column "email" is a string; integer column "age" compares with a number`, false}},
		{"field ref date vs timestamp", `where: { field: birthDate, op: gt, value: { field: lastPurchaseAt } }`, pop, diagWant{"where.value.field", `column "lastPurchaseAt" is a timestamp; date column "birthDate" compares with a date`, false}},
		{"ago bad", `where: { field: lastPurchaseAt, op: gt, value: { ago: 90x } }`, pop, diagWant{"where.value.ago", `unknown unit "x"; valid: s, m, h, d, w`, false}},
		{"ago on integer", `where: { field: age, op: gt, value: { ago: 90d } }`, pop, diagWant{"where.value", `relative times (ago, ahead, now) compare with date or timestamp columns; integer column "age" is not one`, false}},
		{"now in list on string", `where: { field: email, op: in, value: [{ now: true }] }`, pop, diagWant{"where.value[0]", "relative times", false}},

		// audiences
		{"audience unknown", `where: { inAudience: vip-2025 }`, pop, diagWant{"where.inAudience", `audience "vip-2025" is not saved by this campaign (did you mean "vip-2026"?); it must exist when the campaign runs`, true}},
		{"audience dimension", `where: { inAudience: big-orders }`, pop, diagWant{"where.inAudience", `audience "big-orders" holds purchases rows, not customers rows`, false}},
		{"audience file rows", `where: { inAudience: vip-2026 }`, files, diagWant{"where.inAudience", "file rows are not a catalog dimension", false}},

		// hostile names
		{"hostile field", `where: { field: 'email" OR 1=1 --', op: eq, value: x }`, pop, diagWant{"where.field", `unknown column "email\" OR 1=1 --"`, false}},
		{"hostile link", `where: { link: 'purchases"; DROP TABLE x; --', exists: true }`, pop, diagWant{"where.link", "unknown link", false}},
		{"hostile dotted", `where: { field: 'customers.email', op: eq, value: x }`, pop, diagWant{"where.field", `unknown column "customers.email"`, false}},

		// test activity
		{"count unknown activity", `where: { count: lapsd, op: gt, value: 1 }`, test, diagWant{"where.count", `unknown activity "lapsd" (did you mean "lapsed"?)`, false}},
		{"count unknown port", `where: { count: byValue.vipp, op: gt, value: 1 }`, test, diagWant{"where.count", `activity "byValue" has no port "vipp"; ports: vip, others`, false}},
		{"count value", `where: { count: lapsed, op: gt, value: lots }`, test, diagWant{"where.value", `the row count of lapsed needs a number, got "lots"`, false}},
		{"count float", `where: { count: lapsed, op: gt, value: 2.5 }`, test, diagWant{"where.value", "the row count of lapsed needs an integer, got 2.5", false}},
		{"count op", `where: { count: lapsed, op: contains, value: 1 }`, test, diagWant{"where.op", "operator contains does not apply to the row count of lapsed", false}},
		{"param unknown", `where: { param: regio, op: eq, value: FR }`, test, diagWant{"where.param", `unknown parameter "regio" (did you mean "region"?)`, false}},
		{"param value type", `where: { param: region, op: eq, value: 5 }`, test, diagWant{"where.value", `string parameter "region" needs a string, got 5`, false}},
		{"param value ref", `where: { param: discount, op: gt, value: { param: discount } }`, test, diagWant{"where.value", "a test activity compares with constants", false}},
		{"relative in test", `where: { param: cutoff, op: lt, value: { now: true } }`, test, diagWant{"where.value", "relative times are not supported there", false}},
		{"like underscore", `where: { param: region, op: like, value: "F_" }`, test, diagWant{"where.value", "supports % only, not _", false}},
		{"variable unknown", `where: { variable: seasons, op: eq, value: winter }`, test, diagWant{"where.variable", `unknown variable "seasons" (did you mean "season"?)`, false}},
		{"variable list subject", `where: { variable: countries, op: eq, value: FR }`, test, diagWant{"where.variable", `variable "countries" is a list`, false}},
		{"variable value type", `where: { variable: minAge, op: gt, value: old }`, test, diagWant{"where.value", `integer variable "minAge" needs a number, got "old"`, false}},
		{"weekday", `where: { weekday: [mon, tues] }`, test, diagWant{"where.weekday[1]", `unknown weekday "tues" (did you mean "tue"?); valid: mon, tue, wed, thu, fri, sat, sun`, false}},
		{"weekday empty", `where: { weekday: [] }`, test, diagWant{"where.weekday", "weekday needs at least one day", false}},
		{"hour range", `where: { hour: { op: lt, value: 24 } }`, test, diagWant{"where.hour.value", "24 is out of range for hour: 0 to 23", false}},
		{"hour op", `where: { hour: { op: isEmpty } }`, test, diagWant{"where.hour.op", "operator isEmpty does not apply to hour", false}},
		{"hour list", `where: { hour: { op: in, value: [9, 25] } }`, test, diagWant{"where.hour.value[1]", "25 is out of range", false}},
		{"inAudience in test", `where: { inAudience: vip-2026 }`, test, diagWant{"where.inAudience", "inAudience conditions need a population", false}},

		// date parts and windows
		{"like on date", `where: { field: birthDate, op: like, value: "%-12-25" }`, pop, diagWant{"where.op", `operator like does not apply to date column "birthDate"; valid: eq, ne, gt, gte, lt, lte, in, notIn, between, isEmpty, isNotEmpty; on dates also anniversary, inLast, inNext (with within), or compare a part: year, month, day, weekday (e.g. part: month, op: eq, value: 12)`, false}},
		{"anniversary on string", `where: { field: country, op: anniversary }`, pop, diagWant{"where.field", `op anniversary needs a date or timestamp field; string column "country" is not one`, false}},
		{"part on integer", `where: { field: age, part: month, op: eq, value: 1 }`, pop, diagWant{"where.field", `part needs a date or timestamp field; integer column "age" is not one`, false}},
		{"within on string", `where: { field: country, op: eq, value: FR, within: 7d }`, pop, diagWant{"where.field", "within needs a date or timestamp field", false}},
		{"unknown part", `where: { field: birthDate, part: months, op: eq, value: 1 }`, pop, diagWant{"where.part", `unknown part "months" (did you mean "month"?); valid: year, month, day, weekday`, false}},
		{"month range", `where: { field: birthDate, part: month, op: eq, value: 13 }`, pop, diagWant{"where.value", `13 is out of range for the month of "birthDate": 1 to 12`, false}},
		{"day range in list", `where: { field: birthDate, part: day, op: in, value: [1, 32] }`, pop, diagWant{"where.value[1]", "32 is out of range", false}},
		{"month not integer", `where: { field: birthDate, part: month, op: eq, value: 1.5 }`, pop, diagWant{"where.value", "needs an integer", false}},
		{"weekday unknown day", `where: { field: lastPurchaseAt, part: weekday, op: in, value: [sat, sunday] }`, pop, diagWant{"where.value[1]", `"sunday" is not a value of the weekday of "lastPurchaseAt"; valid: mon, tue`, false}},
		{"weekday ordered", `where: { field: lastPurchaseAt, part: weekday, op: gt, value: mon }`, pop, diagWant{"where.op", "operator gt does not apply to the weekday", false}},
		{"weekday param", `where: { field: lastPurchaseAt, part: weekday, op: eq, value: { param: region } }`, pop, diagWant{"where.value", "a weekday compares with days written out", false}},
		{"part with date op", `where: { field: birthDate, part: month, op: anniversary }`, pop, diagWant{"where.op", "anniversary compares a whole date, not a part", false}},
		{"part with within", `where: { field: birthDate, part: month, op: eq, value: 1, within: 7d }`, pop, diagWant{"where.within", "within is used with op anniversary, inLast or inNext, not with part", false}},
		{"within with eq", `where: { field: birthDate, op: eq, value: 2000-01-01, within: 7d }`, pop, diagWant{"where.within", `within is used with op anniversary, inLast, inNext, not with eq`, false}},
		{"within without op", `where: { field: birthDate, within: 7d }`, pop, diagWant{"where", "missing op; with within use anniversary, inLast, inNext", false}},
		{"within integer", `where: { field: birthDate, op: inLast, within: 7 }`, pop, diagWant{"where.within", `within "7": use whole days or weeks such as 7d or 2w`, false}},
		{"inLast without within", `where: { field: lastPurchaseAt, op: inLast }`, pop, diagWant{"where", "inLast needs within: a number of days such as 7d", false}},
		{"within hours", `where: { field: lastPurchaseAt, op: inLast, within: 36h }`, pop, diagWant{"where.within", `within "36h": use whole days or weeks`, false}},
		{"within bad", `where: { field: lastPurchaseAt, op: inNext, within: soon }`, pop, diagWant{"where.within", `within "soon": use whole days or weeks`, false}},
		{"anniversary too long", `where: { field: birthDate, op: anniversary, within: 365d }`, pop, diagWant{"where.within", "within 365d is too long for anniversary: at most 364d", false}},
		{"inLast too long", `where: { field: birthDate, op: inLast, within: 523w }`, pop, diagWant{"where.within", "too long for inLast: at most 3660d", false}},
		{"date op with value", `where: { field: birthDate, op: anniversary, value: 2000-01-01 }`, pop, diagWant{"where.value", "anniversary takes no value; the window is within", false}},
		{"date op on aggregate", `where: { link: purchases, aggregate: max, field: purchasedAt, op: inLast, within: 7d }`, pop, diagWant{"where.within", "within is not used in a link condition", false}},
		{"date op on aggregate op", `where: { link: purchases, aggregate: max, field: purchasedAt, op: inLast }`, pop, diagWant{"where.op", "operator inLast applies to a date or timestamp field, not to max(purchasedAt)", false}},
		{"part in test", `where: { param: since, part: month, op: eq, value: 1 }`, test, diagWant{"where.part", "part is not used in a param condition", false}},
		{"typo date op", `where: { field: birthDate, op: anniversay }`, pop, diagWant{"where.op", `unknown operator "anniversay" (did you mean "anniversary"?)`, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diags := runCheck(t, tc.doc, tc.env)
			if !hasDiag(diags, tc.want) {
				t.Errorf("want %s: %q (warning %v); got:\n%v", tc.want.path, tc.want.msg, tc.want.warning, diags)
			}
		})
	}
}

// TestCheckReportsEverything: one condition with several problems in
// different branches reports each of them.
func TestCheckReportsEverything(t *testing.T) {
	doc := `where:
  all:
    - { field: emial, op: eq, value: x }
    - { field: age, op: gt, value: abc }
    - any:
        - { link: purchases, aggregate: sum, field: sku, op: gt, value: 1 }
        - not: { field: tier, op: eq, value: platinum }
    - { field: country, op: in, value: FR }
`
	diags := runCheck(t, doc, populationEnv(t))
	for _, w := range []diagWant{
		{path: "where.all[0].field", msg: `unknown column "emial"`},
		{path: "where.all[1].value", msg: `needs a number, got "abc"`},
		{path: "where.all[2].any[0].field", msg: "sum needs a numeric column"},
		{path: "where.all[2].any[1].not.value", msg: `"platinum" is not a value`},
		{path: "where.all[3].value", msg: "in needs a list"},
	} {
		if !hasDiag(diags, w) {
			t.Errorf("missing %s: %s", w.path, w.msg)
		}
	}
	if len(diags) != 5 {
		t.Errorf("want 5 diagnostics, got %d:\n%v", len(diags), diags)
	}
}

// TestCheckPositions decodes a condition inside a campaign file and checks
// FILE:LINE:COL of the diagnostics.
func TestCheckPositions(t *testing.T) {
	doc := `version: 1
id: positions
activities:
  - id: lapsed
    type: build-audience
    where:
      all:
        - { field: emial, op: eq, value: x }
        - field: age
          op: startsWith
          value: 1
        - link: purchases
          aggregate: sum
          field: amount
          op: gt
          value: lots
        - { field: tier, op: in, value: [gold, platinum] }
`
	camp, diags := campaign.ParseCampaign("camp.yaml", []byte(doc))
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	a := camp.Activities[0]
	d := campaign.NewDecoder(camp.Src, &diags)
	c := Decode(d, mapValue(a.Node, "where"), campaign.JoinPath(a.Path(), "where"))
	Check(d.Reporter, "activities[0].where", c, populationEnv(t))
	diags.Sort()
	var got []string
	for _, d := range diags {
		got = append(got, d.Pos.String()+" "+d.Path)
	}
	want := []string{
		"camp.yaml:8:20 activities[0].where.all[0].field",
		"camp.yaml:10:15 activities[0].where.all[1].op",
		"camp.yaml:16:18 activities[0].where.all[2].value",
		"camp.yaml:17:48 activities[0].where.all[3].value[1]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("positions:\n got: %s\nwant: %s\n%v", strings.Join(got, "\n      "), strings.Join(want, "\n      "), diags)
	}
	// The rendered form is what `stepwise validate` prints.
	if s := diags[0].String(); s != `camp.yaml:8:20 activities[0].where.all[0].field: unknown column "emial" in customers rows (did you mean "email"?)` {
		t.Errorf("rendered: %s", s)
	}
}

// TestCheckDecodeErrorsStillChecked: decoding problems (unknown keys) are
// reported by the decoder; Check still checks the rest.
func TestCheckDecodeErrorsStillChecked(t *testing.T) {
	diags := runCheck(t, `where: { all: [ { feild: age, op: eq, value: 1 }, { field: agee, op: eq, value: 1 } ] }`, populationEnv(t))
	for _, w := range []diagWant{
		{path: "where.all[0].feild", msg: `unknown field "feild" (did you mean "field"?)`},
		{path: "where.all[0]", msg: "needs a subject"},
		{path: "where.all[1].field", msg: `unknown column "agee"`},
	} {
		if !hasDiag(diags, w) {
			t.Errorf("missing %s: %s\n%v", w.path, w.msg, diags)
		}
	}
}

func TestCheckUnknownSchemaSkipsColumns(t *testing.T) {
	env := populationEnv(t)
	env.Schema = campaign.Schema{Dimension: "customers"}
	diags := runCheck(t, `where: { all: [ { field: anything, op: eq, value: 1 }, { link: purchases, exists: { field: amount, op: gt, value: 1 } }, { field: x, op: eq, value: { param: nope } } ] }`, env)
	if len(diags) != 1 || !hasDiag(diags, diagWant{path: "where.all[2].value.param", msg: `unknown parameter "nope"`}) {
		t.Errorf("want only the parameter error, got:\n%v", diags)
	}
}

func TestDecodeKeepsTimestampText(t *testing.T) {
	c := mustCond(t, `where: { field: lastPurchaseAt, op: in, value: [2026-01-31T09:00:00, 2026-01-31] }`)
	if got := c.Value.List[0].Literal; got != "2026-01-31T09:00:00" {
		t.Errorf("timestamp literal = %#v", got)
	}
	if got := c.Value.List[1].Literal; got != "2026-01-31" {
		t.Errorf("date literal = %#v", got)
	}
	_, _, diags := parseCond(t, `where: { field: age, op: eq, value: 18446744073709551615 }`)
	if !hasDiag(diags, diagWant{path: "where.value", msg: "out of range"}) {
		t.Errorf("uint64 literal: %v", diags)
	}
}

func TestReferences(t *testing.T) {
	c := mustCond(t, `where:
  all:
    - { field: store.region.name, op: eq, value: North }
    - { field: age, op: gt, value: { field: score } }
    - { link: purchases, exists: { field: store.city, op: eq, value: { param: region } } }
    - { inAudience: vip-2026 }
    - { field: country, op: in, value: { variable: countries } }
`)
	got := References(c, customersSchema(t), testCatalog(t))
	want := Refs{
		Columns:   []string{"age", "country", "customerId", "score", "storeId"},
		Tables:    []string{"purchases", "regions", "stores"},
		Audiences: []string{"vip-2026"},
		Params:    []string{"region"},
		Variables: []string{"countries"},
	}
	if strings.Join(got.Columns, ",") != strings.Join(want.Columns, ",") ||
		strings.Join(got.Tables, ",") != strings.Join(want.Tables, ",") ||
		strings.Join(got.Audiences, ",") != strings.Join(want.Audiences, ",") ||
		strings.Join(got.Params, ",") != strings.Join(want.Params, ",") ||
		strings.Join(got.Variables, ",") != strings.Join(want.Variables, ",") || len(got.Counts) != 0 {
		t.Errorf("References:\n got %+v\nwant %+v", got, want)
	}
}

// A date window or part reads the recipient's time zone column.
func TestReferencesZone(t *testing.T) {
	for _, doc := range []string{
		`where: { field: birthDate, op: anniversary }`,
		`where: { field: lastPurchaseAt, part: weekday, op: eq, value: mon }`,
	} {
		got := References(mustCond(t, doc), customersSchema(t), testCatalog(t))
		if strings.Join(got.Columns, ",") != "birthDate,timezone" && strings.Join(got.Columns, ",") != "lastPurchaseAt,timezone" {
			t.Errorf("%s: columns %v, want the field and timezone", doc, got.Columns)
		}
	}
	got := References(mustCond(t, `where: { field: birthDate, op: lt, value: 2000-01-01 }`), customersSchema(t), testCatalog(t))
	if strings.Join(got.Columns, ",") != "birthDate" {
		t.Errorf("plain comparison reads %v", got.Columns)
	}
}
