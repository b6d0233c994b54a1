package targeting_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/sampledata"
)

// The winback chain on generated data (3000 customers), each step checked
// against plain SQL over the generated files.
func TestSampleChain(t *testing.T) {
	if testing.Short() {
		t.Skip("generates data")
	}
	e := newEnv(t)
	ctx := context.Background()
	if err := sampledata.Generate(ctx, e.dir, sampledata.Options{Customers: 3000, Seed: 7, Today: runNow, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	cat, err := os.ReadFile(filepath.Join(e.dir, "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	e.catalog(string(cat))
	p := e.compile(`version: 1
id: t
name: sample
dimension: customers
activities:
  - id: lapsed
    type: build-audience
    where:
      all:
        - { field: lastPurchaseAt, op: lt, value: { ago: 90d } }
        - { field: emailOptIn, op: eq, value: true }
        - { link: purchases, aggregate: sum, field: amount, op: gte, value: 100 }
  - id: rich
    type: enrichment
    from: lapsed
    add:
      - { name: city, field: store.city }
      - { name: orders365, link: purchases, aggregate: count, where: { field: purchasedAt, op: gt, value: { ago: 365d } } }
      - { name: spend365, link: purchases, aggregate: sum, field: amount, where: { field: purchasedAt, op: gt, value: { ago: 365d } } }
      - { name: lastItems, link: purchases, collect: 2, fields: [sku, amount], orderBy: [{ field: purchasedAt, desc: true }] }
  - { id: dedup, type: deduplication, from: rich, by: [email], method: first, orderBy: [{ field: spend365, desc: true }], complement: true }
  - id: split
    type: split
    from: dedup
    segments:
      - { name: vip, where: { field: spend365, op: gte, value: 500 }, limit: { count: 100, orderBy: [{ field: spend365, desc: true }] } }
      - { name: regular, where: { field: orders365, op: gte, value: 1 } }
      - { name: sample, limit: { percent: 10, random: true }, skipEmpty: true }
    others: true
  - { id: perCountry, type: deduplication, from: rich, by: [country], keep: 5, complement: true }
`)
	src := func(name string) string { return "read_parquet('" + filepath.Join(e.dir, name+".parquet") + "')" }
	ago := func(days int) string {
		return fmt.Sprintf("TIMESTAMPTZ '%s'", runNow.AddDate(0, 0, -days).Format("2006-01-02 15:04:05+00"))
	}

	lapsed := e.must(p, "lapsed", opts{})
	want := e.strs(`SELECT c.customerId FROM ` + src("customers") + ` c WHERE c.lastPurchaseAt < ` + ago(90) + ` AND c.emailOptIn
		AND (SELECT sum(amount) FROM ` + src("purchases") + ` p WHERE p.customerId = c.customerId) >= 100 ORDER BY 1`)
	if len(want) < 100 {
		t.Fatalf("only %d lapsed customers: a poor fixture", len(want))
	}
	eq(t, "lapsed", e.ids(lapsed, "out"), want)

	rich := e.must(p, "rich", opts{}, out("lapsed", lapsed))
	got := e.strs(`SELECT concat_ws(' ', customerId, city, orders365, spend365, lastItems1Sku, lastItems1Amount, lastItems2Sku) FROM ` + e.view(rich, "out"))
	want = e.strs(`WITH l AS (SELECT customerId, storeId FROM ` + e.view(lapsed, "out") + `),
		agg AS (SELECT customerId, count(*) FILTER (WHERE purchasedAt > ` + ago(365) + `) AS n,
			sum(amount) FILTER (WHERE purchasedAt > ` + ago(365) + `) AS s FROM ` + src("purchases") + ` GROUP BY customerId),
		ranked AS (SELECT customerId, sku, amount, row_number() OVER (PARTITION BY customerId ORDER BY purchasedAt DESC, purchaseId) AS r FROM ` + src("purchases") + `)
		SELECT concat_ws(' ', l.customerId, s.city, coalesce(agg.n, 0), agg.s, r1.sku, r1.amount, r2.sku)
		FROM l LEFT JOIN ` + src("stores") + ` s USING (storeId) LEFT JOIN agg USING (customerId)
		LEFT JOIN ranked r1 ON r1.customerId = l.customerId AND r1.r = 1 LEFT JOIN ranked r2 ON r2.customerId = l.customerId AND r2.r = 2
		ORDER BY l.customerId`)
	eq(t, "rich", got, want)

	dedup := e.must(p, "dedup", opts{}, out("rich", rich))
	rv := e.view(rich, "out")
	groups := e.strs(`SELECT count(DISTINCT email) + max(CASE WHEN email IS NULL THEN 1 ELSE 0 END) FROM ` + rv)
	eq(t, "one row per email (nulls together)", ints(int(dedup.Counts["out"])), groups)
	if dedup.Counts["out"]+dedup.Counts["duplicates"] != rich.Counts["out"] {
		t.Errorf("out + duplicates != input: %+v", dedup.Counts)
	}
	// No kept row has a better row in its group among the duplicates.
	better := e.strs(`SELECT count(*) FROM ` + e.view(dedup, "out") + ` k JOIN ` + e.view(dedup, "duplicates") + ` d
		ON k.email IS NOT DISTINCT FROM d.email AND (coalesce(d.spend365, -1) > coalesce(k.spend365, -1)
		OR (d.spend365 IS NOT DISTINCT FROM k.spend365 AND d.customerId < k.customerId))`)
	eq(t, "kept rows are the best of their group", better, list("0"))

	split := e.must(p, "split", opts{}, out("dedup", dedup))
	dv := e.view(dedup, "out")
	vip := e.strs(`SELECT customerId FROM ` + dv + ` WHERE spend365 >= 500 ORDER BY spend365 DESC, customerId LIMIT 100`)
	eq(t, "vip", e.ids(split, "vip"), sorted(vip))
	regular := e.strs(`SELECT customerId FROM ` + dv + ` WHERE orders365 >= 1 AND customerId NOT IN (SELECT customerId FROM ` + e.view(split, "vip") + `) ORDER BY 1`)
	eq(t, "regular (including rows cut by the vip limit)", e.ids(split, "regular"), regular)
	rest := e.strs(`SELECT count(*) FROM ` + dv + ` WHERE customerId NOT IN (SELECT customerId FROM ` + e.view(split, "vip") + `)
		AND customerId NOT IN (SELECT customerId FROM ` + e.view(split, "regular") + `)`)
	var n int
	fmt.Sscan(rest[0], &n)
	if split.Counts["sample"] != int64(n/10) || split.Counts["others"] != int64(n-n/10) {
		t.Errorf("sample %d others %d of %d left", split.Counts["sample"], split.Counts["others"], n)
	}
	dup := e.strs(`SELECT count(*) FROM (SELECT customerId FROM ` + e.view(split, "sample") + ` INTERSECT SELECT customerId FROM ` + e.view(split, "others") +
		` UNION ALL SELECT customerId FROM ` + e.view(split, "sample") + ` INTERSECT SELECT customerId FROM ` + e.view(split, "regular") + `)`)
	eq(t, "sample is disjoint", dup, list("0"))

	pc := e.must(p, "perCountry", opts{}, out("rich", rich))
	perCountry := e.strs(`SELECT country || ':' || least(count(*), 5) FROM ` + rv + ` GROUP BY country ORDER BY country`)
	eq(t, "5 per country", e.strs("SELECT country || ':' || count(*) FROM "+e.view(pc, "out")+" GROUP BY country ORDER BY country"), perCountry)
	other := e.must(p, "perCountry", opts{run: "run2"}, out("rich", rich))
	if fmt.Sprint(e.ids(pc, "out")) == fmt.Sprint(e.ids(other, "out")) {
		t.Error("another run id should draw other rows")
	}

	e.rerunSame(p, "lapsed", opts{}, lapsed)
	e.rerunSame(p, "rich", opts{}, rich, out("lapsed", lapsed))
	e.rerunSame(p, "dedup", opts{}, dedup, out("rich", rich))
	e.rerunSame(p, "split", opts{}, split, out("dedup", dedup))
	e.rerunSame(p, "perCountry", opts{}, pc, out("rich", rich))
}
