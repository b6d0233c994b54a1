package targeting_test

import (
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
)

// Populations of the fixture used by the set tests:
//
//	fr:     C01 C02 C05 C09
//	gold:   C01 C04 C07 C10
//	points: C01 C02 C03 C04 C06 C08 C09   (points >= 50; C07 is null)
const setsCampaign = campaignHead + allCustomers + `
  - { id: fr, type: build-audience, where: { field: country, op: eq, value: FR } }
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - { id: points, type: build-audience, where: { field: points, op: gte, value: 50 } }
  - { id: union, type: combine, from: [fr, gold], operation: union }
  - { id: inter, type: combine, from: [fr, gold, points], operation: intersection, complement: true }
  - { id: excl, type: combine, from: [fr, gold, points], operation: exclusion, complement: true }
  - { id: unionEmail, type: combine, from: [fr, gold], operation: union, key: [email] }
  - { id: interEmail, type: combine, from: [fr, gold], operation: intersection, key: [email], complement: true }
  - { id: exclEmail, type: combine, from: [gold, fr], operation: exclusion, key: [email] }
`

func TestCombine(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(setsCampaign)
	fr, gold, points := e.must(p, "fr", opts{}), e.must(p, "gold", opts{}), e.must(p, "points", opts{})
	in2 := []activity.Input{out("fr", fr), out("gold", gold)}
	in3 := append(in2, out("points", points))

	u := e.must(p, "union", opts{}, in2...)
	eq(t, "union", e.ids(u, "out"), list("C01 C02 C04 C05 C07 C09 C10"))
	if _, ok := u.Ports["complement"]; ok {
		t.Error("union has no complement port")
	}

	i := e.must(p, "inter", opts{}, in3...)
	eq(t, "intersection", e.ids(i, "out"), list("C01"))
	// Every row in some input but not in all.
	eq(t, "intersection complement", e.ids(i, "complement"), list("C02 C03 C04 C05 C06 C07 C08 C09 C10"))

	x := e.must(p, "excl", opts{}, in3...)
	eq(t, "exclusion", e.ids(x, "out"), list("C05"))
	eq(t, "exclusion complement", e.ids(x, "complement"), list("C01 C02 C09"))

	// Key email, null equal to null. fr emails: a(C01) a(C02) ∅(C05) c(C09);
	// gold: a(C01) ∅(C04) c(C07) d(C10). One row per email, from the first
	// input that has it, the first in key order there.
	ue := e.must(p, "unionEmail", opts{}, in2...)
	eq(t, "union on email", e.strs("SELECT customerId || ':' || coalesce(email, '∅') FROM "+e.view(ue, "out")),
		list("C01:a@x.com C05:∅ C09:c@x.com C10:d@x.com"))
	ie := e.must(p, "interEmail", opts{}, in2...)
	eq(t, "intersection on email", e.ids(ie, "out"), list("C01 C02 C05 C09"))
	eq(t, "intersection on email complement", e.ids(ie, "complement"), list("C10"))
	xe := e.must(p, "exclEmail", opts{}, out("gold", gold), out("fr", fr))
	eq(t, "gold minus fr emails", e.ids(xe, "out"), list("C10"))

	// An inactive input is an empty population.
	off := activity.Input{From: "gold", Port: "out"}
	eq(t, "union with an inactive input", e.ids(e.must(p, "union", opts{run: "r2"}, out("fr", fr), off), "out"), list("C01 C02 C05 C09"))
	xi := e.must(p, "excl", opts{run: "r2"}, off, out("gold", gold), out("points", points))
	if !active(xi, "out") || xi.Counts["out"] != 0 || xi.Counts["complement"] != 0 {
		t.Errorf("exclusion of an inactive primary: %+v", xi)
	}

	e.rerunSame(p, "inter", opts{}, i, in3...)
	e.rerunSame(p, "unionEmail", opts{}, ue, in2...)
}

// Rows taken from another input get the first input's columns by name.
func TestCombineColumns(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: fr, type: build-audience, where: { field: country, op: eq, value: FR } }
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - id: rich
    type: enrichment
    from: fr
    add: [{ name: city, field: store.city }]
  - { id: both, type: combine, from: [rich, gold], operation: union }
`)
	fr := e.must(p, "fr", opts{})
	rich := e.must(p, "rich", opts{}, out("fr", fr))
	both := e.must(p, "both", opts{}, out("rich", rich), out("gold", e.must(p, "gold", opts{})))
	eq(t, "columns", e.manifest(both, "out").ColumnNames(), list("customerId email country tier points storeId signupAt city"))
	eq(t, "cities", e.strs("SELECT customerId || ':' || coalesce(city, '∅') FROM "+e.view(both, "out")),
		list("C01:Paris C02:Paris C04:∅ C05:∅ C07:∅ C09:Berlin C10:∅"))
}

func TestDeduplication(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + allCustomers + `
  - { id: first, type: deduplication, from: all, by: [email], method: first, orderBy: [{ field: points, desc: true }], complement: true }
  - { id: keep2, type: deduplication, from: all, by: [email], keep: 2, method: first, orderBy: [{ field: points, desc: true }], complement: true }
  - { id: keep0, type: deduplication, from: all, by: [email], keep: 0, complement: true }
  - { id: nonEmpty, type: deduplication, from: all, by: [storeId], method: nonEmpty, field: email, complement: true }
  - { id: values, type: deduplication, from: all, by: [country], method: values, field: tier, values: [silver, gold] }
  - { id: tie, type: deduplication, from: all, by: [country], method: first, orderBy: [{ field: points, desc: true }] }
  - { id: random, type: deduplication, from: all, by: [country], complement: true }
  - { id: twoCols, type: deduplication, from: all, by: [email, country], method: first, orderBy: [{ field: customerId, desc: true }] }
`)
	all := e.must(p, "all", opts{})
	in := out("all", all)

	// Groups by email: a: C01(100) C02(50); b: C03; ∅: C04(80) C05(10) (nulls
	// group together); "": C06; c: C07(∅) C08(70) C09(90); d: C10.
	f := e.must(p, "first", opts{}, in)
	eq(t, "first", e.ids(f, "out"), list("C01 C03 C04 C06 C09 C10"))
	eq(t, "first duplicates", e.ids(f, "duplicates"), list("C02 C05 C07 C08"))

	k2 := e.must(p, "keep2", opts{}, in)
	eq(t, "keep 2", e.ids(k2, "out"), list("C01 C02 C03 C04 C05 C06 C08 C09 C10"))
	eq(t, "keep 2 duplicates", e.ids(k2, "duplicates"), list("C07"))

	k0 := e.must(p, "keep0", opts{}, in)
	if k0.Counts["out"] != 10 || !active(k0, "duplicates") || k0.Counts["duplicates"] != 0 {
		t.Errorf("keep 0: %+v", k0.Counts)
	}

	// By store, non-empty email first, then key: S1: C01 C02 C08 → C01;
	// S2: C03 C04(∅) C09 → C03; S3: C06("") C07 → C07; ∅: C05(∅) C10 → C10.
	ne := e.must(p, "nonEmpty", opts{}, in)
	eq(t, "nonEmpty", e.ids(ne, "out"), list("C01 C03 C07 C10"))

	// By country, silver first, then gold: FR: C02 C09 silver → C02 (key);
	// DE: C04 gold; US: C06 silver; GB: C10 gold.
	eq(t, "values", e.ids(e.must(p, "values", opts{}, in), "out"), list("C02 C04 C06 C10"))

	// A tie at the limit (US: C06 70, C08 70) goes to the key.
	eq(t, "tie", e.ids(e.must(p, "tie", opts{}, in), "out"), list("C01 C04 C06 C10"))

	eq(t, "two columns", e.ids(e.must(p, "twoCols", opts{}, in), "out"), list("C02 C03 C04 C05 C06 C08 C09 C10"))

	// Random: one per country, the rest in duplicates, the same for the same run.
	r := e.must(p, "random", opts{}, in)
	got := e.strs("SELECT country, count(*) FROM " + e.view(r, "out") + " GROUP BY country ORDER BY country")
	eq(t, "random: one per country", got, list("DE|1 FR|1 GB|1 US|1"))
	if r.Counts["out"]+r.Counts["duplicates"] != 10 {
		t.Errorf("random: out + duplicates = %d", r.Counts["out"]+r.Counts["duplicates"])
	}
	overlap := e.strs("SELECT count(*) FROM " + e.view(r, "out") + " JOIN " + e.view(r, "duplicates") + " USING (customerId)")
	eq(t, "out and duplicates are disjoint", overlap, list("0"))
	e.rerunSame(p, "random", opts{}, r, in)
	e.rerunSame(p, "first", opts{}, f, in)
}

func TestChangeDimension(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: big, type: build-audience, dimension: purchases, where: { field: amount, op: gt, value: 6 } }
  - { id: all, type: change-dimension, from: big, to: customers, via: customer }
  - { id: first, type: change-dimension, from: big, to: customers, via: customer, keep: first }
  - { id: fr, type: build-audience, where: { field: country, op: eq, value: FR } }
  - { id: theirs, type: change-dimension, from: fr, to: purchases, via: purchases }
  - { id: stores, type: change-dimension, from: fr, to: stores, via: store, keep: first }
`)
	// amount > 6: P01 P02 P04 P05 P06 P07 P09 (P09's customer C99 does not exist).
	big := e.must(p, "big", opts{})
	eq(t, "big", e.col(big, "out", "purchaseId"), list("P01 P02 P04 P05 P06 P07 P09"))
	all := e.must(p, "all", opts{}, out("big", big))
	eq(t, "keep all", e.ids(all, "out"), list("C01 C01 C02 C03 C03 C07"))
	m := e.manifest(all, "out")
	eq(t, "columns", m.ColumnNames(), list("customerId email country tier points storeId signupAt"))
	if m.Dimension != "customers" {
		t.Errorf("dimension %q", m.Dimension)
	}
	eq(t, "keep first", e.ids(e.must(p, "first", opts{}, out("big", big)), "out"), list("C01 C02 C03 C07"))
	fr := e.must(p, "fr", opts{})
	eq(t, "through a many link", e.col(e.must(p, "theirs", opts{}, out("fr", fr)), "out", "purchaseId"), list("P01 P02 P03 P04 P08"))
	// C05 has no store: null links nothing.
	eq(t, "stores", e.col(e.must(p, "stores", opts{}, out("fr", fr)), "out", "city"), list("Paris Berlin"))
	e.rerunSame(p, "all", opts{}, all, out("big", big))
}

// change-dimension with keep all, through a link holding the input's unique
// key, is a semi-join: the same bytes as the pairs joined.
func TestChangeDimensionSemiJoinAgree(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: fr, type: build-audience, where: { field: country, op: eq, value: FR } }
  - { id: theirs, type: change-dimension, from: fr, to: purchases, via: purchases }
  - { id: stores, type: change-dimension, from: fr, to: stores, via: store }
`)
	chain := func(run string) map[string]*activity.Result {
		fr := e.must(p, "fr", opts{run: run})
		return map[string]*activity.Result{"theirs": e.must(p, "theirs", opts{run: run}, out("fr", fr)),
			"stores": e.must(p, "stores", opts{run: run}, out("fr", fr))}
	}
	before := targeting.SemiJoins()
	semi := chain("semi")
	if targeting.SemiJoins() != before+1 {
		t.Fatalf("%d semi-joins, want 1 (theirs; stores repeats its targets)", targeting.SemiJoins()-before)
	}
	*targeting.SemiJoinKeepAll = false
	defer func() { *targeting.SemiJoinKeepAll = true }()
	pairs := chain("pairs")
	for _, id := range []string{"theirs", "stores"} {
		eq(t, id+" files", e.manifest(semi[id], "out").Files, e.manifest(pairs[id], "out").Files)
	}
	eq(t, "theirs", e.col(semi["theirs"], "out", "purchaseId"), list("P01 P02 P03 P04 P08"))
}

// Combine reads narrow inputs' own files, not their join to the base; the
// outputs are the same bytes as when every input is read joined.
func TestCombineThroughAgree(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(setsCampaign)
	ids := []string{"union", "inter", "excl", "unionEmail", "interEmail", "exclEmail"}
	chain := func(run string) map[string]*activity.Result {
		fr, gold, points := e.must(p, "fr", opts{run: run}), e.must(p, "gold", opts{run: run}), e.must(p, "points", opts{run: run})
		in3 := []activity.Input{out("fr", fr), out("gold", gold), out("points", points)}
		res := map[string]*activity.Result{}
		for _, id := range ids {
			in := in3
			switch id {
			case "union", "unionEmail", "interEmail":
				in = in3[:2]
			case "exclEmail":
				in = []activity.Input{out("gold", gold), out("fr", fr)}
			}
			res[id] = e.must(p, id, opts{run: run}, in...)
		}
		return res
	}
	before := targeting.CombineThroughViews()
	thru := chain("through")
	if targeting.CombineThroughViews() == before {
		t.Fatal("no input was read from its own files")
	}
	*targeting.CombineThrough = false
	defer func() { *targeting.CombineThrough = true }()
	joined := chain("joined")
	compared := 0
	for _, id := range ids {
		for port, ref := range thru[id].Ports {
			if ref == nil || joined[id].Ports[port] == nil {
				if (ref == nil) != (joined[id].Ports[port] == nil) {
					t.Errorf("%s.%s: activated on one path only", id, port)
				}
				continue
			}
			tm, jm := e.manifest(thru[id], port), e.manifest(joined[id], port)
			if tm.Base == nil {
				t.Errorf("%s.%s: not narrow", id, port)
			}
			eq(t, id+"."+port+" files", tm.Files, jm.Files)
			compared++
		}
	}
	if compared < 9 {
		t.Fatalf("only %d outputs compared", compared)
	}
}

// Populations whose columns are the key and their base's sort by the key
// alone, without a hash of the key as tie-break: the same bytes.
func TestKeyOnlyOrderAgree(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(setsCampaign)
	ids := []string{"fr", "gold", "points", "union", "inter", "excl", "unionEmail", "interEmail", "exclEmail"}
	chain := func(run string) map[string]*activity.Result {
		res := map[string]*activity.Result{}
		for _, id := range ids[:3] {
			res[id] = e.must(p, id, opts{run: run})
		}
		in3 := []activity.Input{out("fr", res["fr"]), out("gold", res["gold"]), out("points", res["points"])}
		for _, id := range ids[3:] {
			in := in3
			switch id {
			case "union", "unionEmail", "interEmail":
				in = in3[:2]
			case "exclEmail":
				in = []activity.Input{in3[1], in3[0]}
			}
			res[id] = e.must(p, id, opts{run: run}, in...)
		}
		return res
	}
	keyOnly := chain("key-only")
	*targeting.KeyOnlyOrder = false
	defer func() { *targeting.KeyOnlyOrder = true }()
	hashed := chain("hashed")
	compared := 0
	for _, id := range ids {
		for port, ref := range keyOnly[id].Ports {
			if ref == nil || hashed[id].Ports[port] == nil {
				continue
			}
			eq(t, id+"."+port+" files", e.manifest(keyOnly[id], port).Files, e.manifest(hashed[id], port).Files)
			compared++
		}
	}
	if compared < 12 {
		t.Fatalf("only %d outputs compared", compared)
	}
}
