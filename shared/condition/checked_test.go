package condition

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// describe is a short form of a tree, for tests and debugging.
func describe(n Node) string {
	switch n := n.(type) {
	case *Junction:
		parts := make([]string, len(n.Items))
		for i, x := range n.Items {
			parts[i] = describe(x)
		}
		op := "all"
		if n.Any {
			op = "any"
		}
		return op + "(" + strings.Join(parts, ", ") + ")"
	case *Negation:
		return "not(" + describe(n.Item) + ")"
	case *Compare:
		vals := make([]string, len(n.Values))
		for i, v := range n.Values {
			vals[i] = describeOperand(v)
		}
		return fmt.Sprintf("%s:%s %s [%s]", describeSubject(n.Subject), n.Type, n.Op, strings.Join(vals, ", "))
	case *LinkExists:
		s := "exists"
		if n.Negated {
			s = "notExists"
		}
		if n.Where == nil {
			return fmt.Sprintf("%s %s->%s", s, n.Link.Name, n.Table.Name)
		}
		return fmt.Sprintf("%s %s->%s(%s)", s, n.Link.Name, n.Table.Name, describe(n.Where))
	case *InAudience:
		return fmt.Sprintf("inAudience %s of %s", n.Name, n.Table.Name)
	case *Weekday:
		return "weekday " + strings.Join(n.Days, ",")
	case *DateWindow:
		return fmt.Sprintf("%s %s %dd%s", describeOperand(n.Field), n.Op, n.Days, describeZone(n.Zone))
	}
	return fmt.Sprintf("%T", n)
}

func describeSubject(s Subject) string {
	switch s := s.(type) {
	case *FieldRef:
		return describeOperand(s)
	case *AggregateRef:
		col := "*"
		if s.Column != nil {
			col = s.Column.Name
		}
		where := ""
		if s.Where != nil {
			where = " where " + describe(s.Where)
		}
		return fmt.Sprintf("%s(%s->%s.%s%s)", s.Func, s.Link.Name, s.Table.Name, col, where)
	case *CountFact:
		return "count " + s.Port.Activity + "." + s.Port.PortOrOut()
	case *ParamFact:
		return "param " + s.Name
	case *VariableFact:
		return fmt.Sprintf("variable %s=%s", s.Name, show(s.Value))
	case *HourFact:
		return "hour"
	case *DatePart:
		return s.Part + "(" + describeOperand(s.Field) + describeZone(s.Zone) + ")"
	}
	return fmt.Sprintf("%T", s)
}

func describeZone(z *FieldRef) string {
	if z == nil {
		return ""
	}
	return " in " + describeOperand(z)
}

func describeOperand(o Operand) string {
	switch o := o.(type) {
	case Const:
		return show(o.Value)
	case *ParamRef:
		return "param " + o.Name + ":" + o.Type
	case *FieldRef:
		var b strings.Builder
		for _, h := range o.Hops {
			b.WriteString(h.Link.Name + "->" + h.Table.Name + ".")
		}
		return b.String() + o.Column.Name + ":" + o.Column.Type
	case *RelTime:
		return fmt.Sprintf("now-%v+%v", o.Ago, o.Ahead)
	}
	return fmt.Sprintf("%T", o)
}

// checked checks doc in env and returns its tree, failing on any error.
func checked(t *testing.T, doc string, env CheckEnv) *Checked {
	t.Helper()
	c, src, diags := parseCond(t, doc)
	ch := Check(campaign.Reporter{Src: src, Diags: &diags}, "where", c, env)
	if diags.HasErrors() || ch == nil {
		t.Fatalf("check %q: %v (tree %v)", doc, diags, ch)
	}
	return ch
}

// TestCheckReturnsCheckedTree: Check resolves fields to their column and
// one-links, links and aggregates to their table, and values to constants of
// the compared type (a variable list item by item).
func TestCheckReturnsCheckedTree(t *testing.T) {
	pop, test := populationEnv(t), testEnv(t)
	cases := []struct {
		name, doc string
		env       CheckEnv
		want      string
	}{
		{"field", `where: { field: age, op: gte, value: 18 }`, pop, `age:integer:integer gte [18]`},
		{"two one-links", `where: { field: store.region.name, op: eq, value: North }`, pop,
			`store->stores.region->regions.name:string:string eq ["North"]`},
		{"variable list", `where: { field: country, op: in, value: { variable: countries } }`, pop, `country:string:string in ["FR", "DE"]`},
		{"mixed list", `where: { field: age, op: between, value: [{ variable: minAge }, 65] }`, pop, `age:integer:integer between [18, 65]`},
		{"date variable", `where: { field: birthDate, op: gte, value: { variable: launch } }`, pop, `birthDate:date:date gte ["2026-01-15"]`},
		{"param and field", `where: { any: [ { field: balance, op: gte, value: { param: discount } }, { field: balance, op: gt, value: { field: score } } ] }`, pop,
			`any(balance:decimal:decimal gte [param discount:integer], balance:decimal:decimal gt [score:number])`},
		{"relative time", `where: { field: lastPurchaseAt, op: gt, value: { ago: 1w2d } }`, pop, `lastPurchaseAt:timestamp:timestamp gt [now-216h0m0s+0s]`},
		{"exists", `where: { link: purchases, exists: { field: store.city, op: eq, value: Lyon } }`, pop,
			`exists purchases->purchases(store->stores.city:string:string eq ["Lyon"])`},
		{"not exists any", `where: { not: { link: purchases, notExists: true } }`, pop, `not(notExists purchases->purchases)`},
		{"aggregate", `where: { link: purchases, aggregate: avg, field: amount, op: gt, value: 50, where: { field: channel, op: eq, value: web } }`, pop,
			`avg(purchases->purchases.amount where channel:string:string eq ["web"]):number gt [50]`},
		{"count", `where: { link: purchases, aggregate: count, op: gte, value: 3 }`, pop, `count(purchases->purchases.*):integer gte [3]`},
		{"inAudience", `where: { inAudience: vip-2026 }`, pop, `inAudience vip-2026 of customers`},
		{"anniversary", `where: { field: birthDate, op: anniversary }`, pop, `birthDate:date anniversary 0d in timezone:string`},
		{"inLast through a link", `where: { field: store.openedOn, op: inLast, within: 2w }`, pop, `store->stores.openedOn:date inLast 14d in timezone:string`},
		{"linked rows: the campaign's zone", `where: { link: purchases, exists: { field: purchasedAt, op: inNext, within: 3d } }`, pop,
			`exists purchases->purchases(purchasedAt:timestamp inNext 3d)`},
		{"weekday as ISO numbers", `where: { field: lastPurchaseAt, part: weekday, op: in, value: [mon, sun] }`, pop,
			`weekday(lastPurchaseAt:timestamp in timezone:string):integer in [1, 7]`},
		{"month", `where: { field: birthDate, part: month, op: between, value: [6, 8] }`, pop, `month(birthDate:date in timezone:string):integer between [6, 8]`},
		{"test facts", `where: { all: [ { count: byValue.vip, op: gt, value: 10 }, { param: region, op: isEmpty }, { variable: season, op: eq, value: winter }, { weekday: [mon] }, { hour: { op: lt, value: 12 } } ] }`, test,
			`all(count byValue.vip:integer gt [10], param region:string isEmpty [], variable season="winter":string eq ["winter"], weekday mon, hour:integer lt [12])`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := checked(t, tc.doc, tc.env)
			if ch.Mode != tc.env.Mode {
				t.Errorf("mode %v", ch.Mode)
			}
			if got := describe(ch.Root); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	// The tree is typed: a field through a link names the link and table.
	ch := checked(t, `where: { field: store.city, op: eq, value: Lyon }`, pop)
	ref := ch.Root.(*Compare).Subject.(*FieldRef)
	if ref.Name != "store.city" || ref.Column.Type != campaign.TypeString || len(ref.Hops) != 1 ||
		ref.Hops[0].Link.Name != "store" || ref.Hops[0].Table.Name != "stores" {
		t.Errorf("field ref: %+v", ref)
	}
}

// TestCheckTreeOnlyWhenValid: Check returns no tree when it reports an
// error; a warning keeps it; rows of unknown columns give a tree that does
// not lower.
func TestCheckTreeOnlyWhenValid(t *testing.T) {
	env := populationEnv(t)
	var diags campaign.Diagnostics
	r := campaign.Reporter{Diags: &diags}
	if ch := Check(r, "where", mustCond(t, `where: { field: age, op: eq, value: x }`), env); ch != nil || !diags.HasErrors() {
		t.Errorf("invalid: tree %v, diags %v", ch, diags)
	}
	diags = nil
	if ch := Check(r, "where", mustCond(t, `where: { inAudience: other }`), env); ch == nil || diags.HasErrors() || len(diags) != 1 {
		t.Errorf("warning only: tree %v, diags %v", ch, diags)
	}
	if ch := Check(r, "where", nil, env); ch != nil {
		t.Errorf("nil condition: %v", ch)
	}
	env.Schema = campaign.Schema{Dimension: "customers"}
	diags = nil
	ch := Check(r, "where", mustCond(t, `where: { field: anything, op: eq, value: 1 }`), env)
	if ch == nil || len(diags) != 0 {
		t.Fatalf("unknown columns: tree %v, diags %v", ch, diags)
	}
	if _, _, err := ch.ToSQL(sqlScope(t)); err == nil || !strings.Contains(err.Error(), "columns are unknown") {
		t.Errorf("unknown columns lowered: %v", err)
	}
}

// TestCheckedLowersWithoutChecking: a checked tree lowers as ToSQL and
// ToChoice do, once per run scope, and only in its own mode.
func TestCheckedLowersWithoutChecking(t *testing.T) {
	doc := `where: { all: [ { field: store.city, op: eq, value: { param: region } }, { link: purchases, aggregate: sum, field: amount, op: gt, value: 10 } ] }`
	ch := checked(t, doc, populationEnv(t))
	want, wantArgs, err := ToSQL(mustCond(t, doc), sqlScope(t))
	if err != nil {
		t.Fatal(err)
	}
	sc := sqlScope(t)
	sc.Catalog, sc.Schema.Columns, sc.ParamTypes = nil, nil, nil // resolved in the tree
	sql, args, err := ch.ToSQL(sc)
	if err != nil || sql != want || !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("Checked.ToSQL:\n got %s %#v %v\nwant %s %#v", sql, args, err, want, wantArgs)
	}
	sc.Params = map[string]any{"region": "DE"}
	if _, args, _ := ch.ToSQL(sc); !reflect.DeepEqual(args, []any{"DE", int64(10)}) {
		t.Errorf("another run's parameters: %#v", args)
	}
	if _, err := ch.ToChoice(testFacts()); err == nil || !strings.Contains(err.Error(), "does not lower to a Choice rule") {
		t.Errorf("population tree to Choice: %v", err)
	}
	tdoc := `where: { any: [ { count: lapsed, op: gt, value: 1 }, { hour: { op: lt, value: 12 } } ] }`
	tch := checked(t, tdoc, testEnv(t))
	r, err := tch.ToChoice(testFacts())
	wantRule, _ := ToChoice(mustCond(t, tdoc), testFacts())
	if err != nil || !reflect.DeepEqual(r, wantRule) {
		t.Errorf("Checked.ToChoice: %+v %v", r, err)
	}
	if _, _, err := tch.ToSQL(sqlScope(t)); err == nil || !strings.Contains(err.Error(), "only valid in a test activity") {
		t.Errorf("test tree to SQL: %v", err)
	}
}

// TestLoweringInvalidNamesFirstProblem: lowering a raw condition that does
// not check gives an *InvalidError naming the first problem and its path,
// not a list of every message; the error keeps every diagnostic.
func TestLoweringInvalidNamesFirstProblem(t *testing.T) {
	c := mustCond(t, `where: { all: [ { field: age, op: gt, value: 1 }, { any: [ { field: emial, op: eq, value: x } ] }, { field: tier, op: eq, value: platinum } ] }`)
	_, _, err := ToSQL(c, sqlScope(t))
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("ToSQL: want *InvalidError, got %T %v", err, err)
	}
	if inv.Path != "all[1].any[0].field" || !strings.HasPrefix(inv.Message, `unknown column "emial"`) || len(inv.Diags) != 2 {
		t.Errorf("ToSQL: %+v", inv)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, `condition: invalid: all[1].any[0].field: unknown column "emial"`) || strings.Contains(msg, "platinum") {
		t.Errorf("ToSQL error: %s", msg)
	}
	_, err = ToChoice(mustCond(t, `where: { all: [ { param: region, op: eq, value: FR }, { hour: { op: gt, value: 99 } }, { weekday: [funday] } ] }`), testFacts())
	if !errors.As(err, &inv) || inv.Path != "all[1].hour.value" || len(inv.Diags) != 2 ||
		err.Error() != "condition: invalid: all[1].hour.value: 99 is out of range for hour: 0 to 23" {
		t.Errorf("ToChoice: %v", err)
	}
}
