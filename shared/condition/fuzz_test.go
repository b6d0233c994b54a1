package condition

import (
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

var fuzzSeeds = []string{
	`{ field: country, op: in, value: [FR, "'; DROP TABLE x; --"] }`,
	`{ all: [ { field: age, op: between, value: [18, { variable: minAge }] }, { not: { field: email, op: like, value: "%' OR 1=1 --" } } ] }`,
	`{ link: purchases, aggregate: sum, field: amount, op: gt, value: 500, where: { field: purchasedAt, op: gt, value: { ago: 90d } } }`,
	`{ link: purchases, exists: { field: store.city, op: startsWith, value: "Par\u202e" } }`,
	`{ any: [ { field: store.region.name, op: isEmpty }, { inAudience: vip-2026 }, { field: lastPurchaseAt, op: lt, value: { param: cutoff } } ] }`,
	`{ count: byValue.vip, op: notIn, value: [0, 1] }`,
	`{ all: [ { param: region, op: contains, value: "*" }, { weekday: [mon] }, { hour: { op: lt, value: 12 } }, { variable: season, op: eq, value: winter } ] }`,
}

// sqlBytes are the only bytes ToSQL writes besides catalog identifiers.
const sqlBytes = `ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_ ()",.=<>*?`

// stringLiterals collects the string literals of a condition.
func stringLiterals(c *Condition) []string {
	var out []string
	var value func(v *Value)
	value = func(v *Value) {
		if v == nil {
			return
		}
		if s, ok := v.Literal.(string); ok {
			out = append(out, s)
		}
		for _, item := range v.List {
			value(item)
		}
	}
	var walk func(c *Condition)
	walk = func(c *Condition) {
		if c == nil {
			return
		}
		for i := range c.All {
			walk(&c.All[i])
		}
		for i := range c.Any {
			walk(&c.Any[i])
		}
		walk(c.Not)
		walk(c.Where)
		for _, e := range []*Exists{c.Exists, c.NotExists} {
			if e != nil {
				walk(e.Cond)
			}
		}
		value(c.Value)
		if c.Hour != nil {
			value(c.Hour.Value)
		}
	}
	walk(c)
	return out
}

// FuzzDecodeCondition: bytes → parse → decode → Check → ToSQL never panics;
// a condition that checks lowers, and its SQL is made only of fixed tokens
// and catalog identifiers, with no string literal value in it.
func FuzzDecodeCondition(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	env := populationEnv(f)
	idents := catalogIdents(testCatalog(f))
	sc := sqlScope(f)
	// An unknown audience is a warning: at run time any saved audience has
	// a relation.
	sc.Audience = func(string) (AudienceRelation, error) {
		return AudienceRelation{Relation: "aud_vip", Key: []string{"customerId"}}, nil
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, diags := campaign.Parse("fuzz.yaml", data)
		if diags.HasErrors() {
			return
		}
		d := campaign.NewDecoder(src, &diags)
		c := Decode(d, src.Root, "")
		Check(d.Reporter, "", c, env)
		sql, args, err := ToSQL(c, sc)
		if diags.HasErrors() {
			return
		}
		if err != nil {
			t.Fatalf("checked condition does not lower: %v\n%s", err, data)
		}
		if err := checkSQLTokens(sql, len(args), idents); err != nil {
			t.Fatalf("%v\n%s", err, sql)
		}
		for _, lit := range stringLiterals(c) {
			foreign := strings.ContainsFunc(lit, func(r rune) bool { return !strings.ContainsRune(sqlBytes, r) })
			if foreign && strings.Contains(sql, lit) {
				t.Fatalf("literal %q reached the SQL: %s", lit, sql)
			}
		}
	})
}

// FuzzChoice: a test-activity condition that checks lowers to a Choice rule.
func FuzzChoice(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	env := testEnv(f)
	facts := testFacts()
	f.Fuzz(func(t *testing.T, data []byte) {
		src, diags := campaign.Parse("fuzz.yaml", data)
		if diags.HasErrors() {
			return
		}
		d := campaign.NewDecoder(src, &diags)
		c := Decode(d, src.Root, "")
		Check(d.Reporter, "", c, env)
		_, err := ToChoice(c, facts)
		if !diags.HasErrors() && err != nil {
			t.Fatalf("checked condition does not lower: %v\n%s", err, data)
		}
	})
}
