package targeting_test

import (
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
)

// splits exercises split: ordered segments with limits, overlap, single, limits.
const splits = `
  - id: ordered
    type: split
    from: all
    segments:
      # gold by points: C01(100) C04(80) C10(20) C07(∅, last) → C01 C04; C07 and C10 stay available.
      - { name: vip, where: { field: tier, op: eq, value: gold }, limit: { count: 2, orderBy: [{ field: points, desc: true }] } }
      # FR among the rest: C02 C05 C09.
      - { name: fr, where: { field: country, op: eq, value: FR } }
      # 50% of the 5 rows left (C03 C06 C07 C08 C10), rounded down: 2.
      - { name: sample, limit: { percent: 50, random: true } }
      - { name: nobody, where: { field: country, op: eq, value: XX }, skipEmpty: true }
      - { name: empty, where: { field: country, op: eq, value: XX } }
    others: true
  - id: overlap
    type: split
    from: all
    overlap: true
    segments:
      - { name: vip, where: { field: tier, op: eq, value: gold }, limit: { count: 2, orderBy: [{ field: points, desc: true }] } }
      - { name: fr, where: { field: country, op: eq, value: FR } }
      - { name: sample, limit: { percent: 50 } }
    others: true
  - id: single
    type: split
    from: all
    single: true
    others: true
    segments:
      - { name: vip, code: VIP, where: { field: tier, op: eq, value: gold }, limit: { count: 2, orderBy: [{ field: points, desc: true }] } }
      - { name: fr, where: { field: country, op: eq, value: FR } }
  - id: singleOverlap
    type: split
    from: all
    single: true
    overlap: true
    segments:
      - { name: vip, code: VIP, where: { field: tier, op: eq, value: gold } }
      - { name: fr, code: FR, where: { field: country, op: eq, value: FR } }
  - id: limits
    type: split
    from: all
    segments:
      # 33.3% of 10 = 3.33 → 3; percent of the rows reaching the segment.
      - { name: third, limit: { percent: 33.3, orderBy: [{ field: customerId }] } }
      # US among the 7 left: C06 C07 C08; by points desc with a tie (C06, C08 at 70) → the key decides.
      - { name: us, where: { field: country, op: eq, value: US }, limit: { count: 1, orderBy: [{ field: points, desc: true }] } }
      - { name: zero, limit: { count: 0 } }
      # 10% of the 6 left = 0.6 → 0 rows (and no skipEmpty: activated).
      - { name: tenth, limit: { percent: 10 } }
      # FR among the rows left with 50%: C05 C09 → 1 row.
      - { name: frHalf, where: { field: country, op: eq, value: FR }, limit: { percent: 50, orderBy: [{ field: points }] } }
    others: true
`

func TestSplit(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + allCustomers + splits)
	all := e.must(p, "all", opts{})
	in := out("all", all)

	o := e.must(p, "ordered", opts{}, in)
	eq(t, "vip", e.ids(o, "vip"), list("C01 C04"))
	eq(t, "fr", e.ids(o, "fr"), list("C02 C05 C09"))
	sample := e.ids(o, "sample")
	if len(sample) != 2 {
		t.Errorf("sample: %v", sample)
	}
	rest := map[string]bool{"C03": true, "C06": true, "C07": true, "C08": true, "C10": true}
	for _, id := range sample {
		if !rest[id] {
			t.Errorf("sample took %s, which an earlier segment had", id)
		}
		delete(rest, id)
	}
	var others []string
	for _, id := range list("C03 C06 C07 C08 C10") {
		if rest[id] {
			others = append(others, id)
		}
	}
	eq(t, "others", e.ids(o, "others"), others)
	if active(o, "nobody") {
		t.Error("skipEmpty: the empty segment should not be activated")
	}
	if !active(o, "empty") || o.Counts["empty"] != 0 {
		t.Errorf("an empty segment without skipEmpty is activated with 0 rows: %+v", o.Counts)
	}
	e.rerunSame(p, "ordered", opts{}, o, in)
	// Another run draws again, but the sizes do not change.
	o2 := e.must(p, "ordered", opts{run: "other"}, in)
	if o2.Counts["sample"] != 2 || o2.Counts["others"] != 3 {
		t.Errorf("other run: %+v", o2.Counts)
	}

	ov := e.must(p, "overlap", opts{}, in)
	eq(t, "overlap vip", e.ids(ov, "vip"), list("C01 C04"))
	eq(t, "overlap fr", e.ids(ov, "fr"), list("C01 C02 C05 C09"))
	if ov.Counts["sample"] != 5 {
		t.Errorf("overlap sample: 50%% of all 10 rows, got %d", ov.Counts["sample"])
	}
	// others: in no segment at all.
	want := e.strs("SELECT customerId FROM " + e.view(all, "out") + " WHERE customerId NOT IN ('C01', 'C04', 'C02', 'C05', 'C09') AND customerId NOT IN (SELECT customerId FROM " +
		e.view(ov, "sample") + ") ORDER BY 1")
	eq(t, "overlap others", e.ids(ov, "others"), want)

	s := e.must(p, "single", opts{}, in)
	if len(s.Ports) != 1 || !active(s, "out") {
		t.Errorf("single: ports %v", s.Ports)
	}
	eq(t, "single", e.strs("SELECT customerId || ':' || coalesce(segmentCode, '∅') FROM "+e.view(s, "out")),
		list("C01:VIP C02:fr C03:∅ C04:VIP C05:fr C06:∅ C07:∅ C08:∅ C09:fr C10:∅"))
	eq(t, "single columns", e.manifest(s, "out").ColumnNames(), list("customerId email country tier points storeId signupAt segmentCode"))
	so := e.must(p, "singleOverlap", opts{}, in)
	eq(t, "single overlap", e.strs("SELECT customerId || ':' || segmentCode FROM "+e.view(so, "out")),
		list("C01:VIP C01:FR C02:FR C04:VIP C05:FR C07:VIP C09:FR C10:VIP"))

	l := e.must(p, "limits", opts{}, in)
	eq(t, "33.3%", e.ids(l, "third"), list("C01 C02 C03"))
	eq(t, "tie at the limit", e.ids(l, "us"), list("C06"))
	if !active(l, "zero") || l.Counts["zero"] != 0 || !active(l, "tenth") || l.Counts["tenth"] != 0 {
		t.Errorf("limits: %+v", l.Counts)
	}
	eq(t, "percent of the rows matching", e.ids(l, "frHalf"), list("C05"))
	eq(t, "limits others", e.ids(l, "others"), list("C04 C07 C08 C09 C10"))
}

// With a unique key, split numbers only the keys and joins the rows back; without, it
// numbers a copy of the rows. Both write the same bytes (part files are named by
// their content).
func TestSplitPathsAgree(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + allCustomers + splits)
	in := out("all", e.must(p, "all", opts{}))
	ids := []string{"ordered", "overlap", "single", "singleOverlap", "limits"}
	keyed := map[string]*activity.Result{}
	for _, id := range ids {
		keyed[id] = e.must(p, id, opts{run: "keyed"}, in)
	}
	*targeting.SplitByKey = false
	defer func() { *targeting.SplitByKey = true }()
	compared := 0
	for _, id := range ids {
		k, w := keyed[id], e.must(p, id, opts{run: "keyed-copy"}, in)
		for port := range k.Ports {
			if port == "sample" || port == "others" || port == "tenth" {
				continue // drawn with the run id as seed
			}
			if k.Ports[port] == nil || w.Ports[port] == nil {
				if k.Ports[port] != w.Ports[port] {
					t.Errorf("%s.%s: activated on one path only", id, port)
				}
				continue
			}
			km, wm := e.manifest(k, port), e.manifest(w, port)
			eq(t, id+"."+port+" files", km.Files, wm.Files)
			if km.Rows > 0 {
				compared++
			}
		}
	}
	if compared < 8 {
		t.Fatalf("only %d non-empty outputs compared", compared)
	}
}

// spentEnrichment adds each customer's total spend to all (more additions may follow).
const spentEnrichment = `  - id: enriched
    type: enrichment
    from: all
    add:
      - { name: spent, link: purchases, aggregate: sum, field: amount }
`

// Segments, aggregates and links that read only a narrow input's own columns
// read its files without the join to the customers; the outputs are the same
// bytes as when every read joins.
func TestOwnReadsAgree(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + allCustomers + spentEnrichment + `      - { name: orders, link: purchases, aggregate: count }
      - { name: firstSku, link: purchases, collect: 1, fields: [sku], orderBy: [{ field: purchasedAt }] }
  - id: bySpend
    type: split
    from: enriched
    segments:
      - { name: big, where: { field: spent, op: gte, value: 20 }, limit: { count: 2, orderBy: [{ field: spent, desc: true }] } }
      - { name: gold, where: { field: tier, op: eq, value: gold } }
      - { name: buyers, where: { field: orders, op: gte, value: 1 }, limit: { count: 1, orderBy: [{ field: points }] } }
      - { name: half, limit: { percent: 50, orderBy: [{ field: customerId, desc: true }] } }
    others: true
  - id: stores
    type: change-dimension
    from: enriched
    to: purchases
    via: purchases
`)
	chain := func(run string) map[string]*activity.Result {
		all := e.must(p, "all", opts{run: run})
		enriched := e.must(p, "enriched", opts{run: run}, out("all", all))
		return map[string]*activity.Result{"enriched": enriched,
			"bySpend": e.must(p, "bySpend", opts{run: run}, out("enriched", enriched)),
			"stores":  e.must(p, "stores", opts{run: run}, out("enriched", enriched))}
	}
	before := targeting.OwnViews()
	own := chain("own")
	if targeting.OwnViews() == before {
		t.Fatal("no read took the input's own files")
	}
	*targeting.OwnReads = false
	defer func() { *targeting.OwnReads = true }()
	joined := chain("joined")
	compared := 0
	for id, res := range own {
		if e.manifest(res, firstPort(res)).Base == nil && id != "stores" {
			t.Errorf("%s: output is not narrow, the test reads no own files", id)
		}
		for port, ref := range res.Ports {
			if ref == nil || joined[id].Ports[port] == nil {
				if (ref == nil) != (joined[id].Ports[port] == nil) {
					t.Errorf("%s.%s: activated on one path only", id, port)
				}
				continue
			}
			eq(t, id+"."+port+" files", e.manifest(res, port).Files, e.manifest(joined[id], port).Files)
			compared++
		}
	}
	if compared < 6 {
		t.Fatalf("only %d outputs compared", compared)
	}
}

func firstPort(res *activity.Result) string {
	for port, ref := range res.Ports {
		if ref != nil {
			return port
		}
	}
	return ""
}

// Outputs that pass a unique population's rows through, each at most once,
// say so in their manifest (readers then skip the check), and it is true;
// an output that can repeat a key (a union) does not.
func TestUniqueKeyVouched(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + allCustomers + spentEnrichment + `  - { id: onePerEmail, type: deduplication, from: enriched, by: [email], keep: 1, method: first, orderBy: [{ field: spent, desc: true }] }
  - { id: bySpend, type: split, from: onePerEmail, others: true, segments: [
      { name: big, where: { field: spent, op: gte, value: 20 } },
      { name: fr, where: { field: country, op: eq, value: FR } } ] }
  - id: both
    type: combine
    operation: union
    from: [bySpend.big, all]
`)
	all := e.must(p, "all", opts{})
	enriched := e.must(p, "enriched", opts{}, out("all", all))
	dedup := e.must(p, "onePerEmail", opts{}, out("enriched", enriched))
	split := e.must(p, "bySpend", opts{}, out("onePerEmail", dedup))
	both := e.must(p, "both", opts{}, from("bySpend", split, "big"), out("all", all))
	vouched := 0
	check := func(name string, res *activity.Result, port string) {
		m := e.manifest(res, port)
		if !m.UniqueKey {
			return
		}
		vouched++
		seen := map[string]bool{}
		for _, id := range e.ids(res, port) {
			if id == "" || seen[id] {
				t.Errorf("%s.%s: vouched unique, but key %q is null or repeated", name, port, id)
			}
			seen[id] = true
		}
	}
	check("all", all, "out")
	check("enriched", enriched, "out")
	check("onePerEmail", dedup, "out")
	for _, port := range []string{"big", "fr", "others"} {
		check("bySpend", split, port)
	}
	if vouched != 6 {
		t.Errorf("%d outputs vouched unique, want 6", vouched)
	}
	if e.manifest(both, "out").UniqueKey {
		t.Error("a union is vouched unique")
	}
}
