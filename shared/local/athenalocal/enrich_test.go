package athenalocal_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// Enrichment on Athena (one UNLOAD of the same generator's SELECT in the
// Trino dialect) adds the same values as on DuckDB, for every form of
// addition: columns and one-link fields, each aggregate with and without
// where (one GROUP BY per link), collect with where and orderBy, a join on
// another input (first row per value, no QUALIFY on Trino), an inactive
// joined input and an inactive main input, a purchases population, and an
// input that is itself Athena's output.
func TestEnrichmentAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-enrichment
dimension: customers
timezone: Europe/Paris
activities:
  - { id: all, type: build-audience }
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - id: nobody
    type: build-audience
    emptyOutput: false
    where: { field: firstName, op: eq, value: "no such name" }
  - id: enriched
    type: enrichment
    from: [all, gold, nobody]
    add:
      - { name: level, field: tier }
      - { name: city, field: store.city }
      - { name: orders, link: purchases, aggregate: count }
      - { name: skus, link: purchases, aggregate: count, field: sku }
      - { name: bigOrders, link: purchases, aggregate: count, where: { field: amount, op: gte, value: 50 } }
      - { name: distinctSkus, link: purchases, aggregate: countDistinct, field: sku }
      - { name: distinctBigSkus, link: purchases, aggregate: countDistinct, field: sku, where: { field: amount, op: gte, value: 50 } }
      - { name: spend, link: purchases, aggregate: sum, field: amount }
      - { name: spend365, link: purchases, aggregate: sum, field: amount, where: { field: purchasedAt, op: gt, value: { ago: 365d } } }
      - { name: weekendBuys, link: purchases, aggregate: count, where: { field: purchasedAt, part: weekday, op: in, value: [sat, sun] } }
      - { name: recentSpend, link: purchases, aggregate: sum, field: amount, where: { field: purchasedAt, op: inLast, within: 90d } }
      - { name: basket, link: purchases, aggregate: avg, field: amount }
      - { name: bigBasket, link: purchases, aggregate: avg, field: amount, where: { field: amount, op: gte, value: 50 } }
      - { name: firstBuy, link: purchases, aggregate: min, field: purchasedAt }
      - { name: lastBuy, link: purchases, aggregate: max, field: purchasedAt }
      - { name: topSku, link: purchases, aggregate: max, field: sku, where: { field: sku, op: like, value: "S%" } }
      - { name: storeCountry, link: store, aggregate: max, field: country }
      - { name: last, link: purchases, collect: 2, fields: [sku, amount], orderBy: [{ field: purchasedAt, desc: true }] }
      - { name: big, link: purchases, collect: 1, fields: [purchasedAt], where: { field: amount, op: gte, value: 50 }, orderBy: [{ field: amount }] }
      - { name: goldMate, join: gold, on: { country: country }, field: customerId }
      - { name: goldTwin, join: gold, on: { country: country, storeId: storeId }, field: email }
      - { name: ghost, join: nobody, on: { customerId: customerId }, field: email }
  - id: fromNobody
    type: enrichment
    from: [nobody, gold]
    add:
      - { name: orders, link: purchases, aggregate: count }
      - { name: city, field: store.city }
      - { name: mate, join: gold, on: { country: country }, field: customerId }
  - id: big
    type: build-audience
    dimension: purchases
    where: { field: amount, op: gte, value: 20 }
  - id: buys
    type: enrichment
    from: big
    add:
      - { name: city, field: store.city }
      - { name: buyerTier, field: customer.tier }
      - { name: buyerStoreCity, field: customer.store.city }
  - id: again
    type: enrichment
    from: enriched
    add:
      - { name: lastAmount, link: purchases, aggregate: max, field: amount }
`
	if err := os.WriteFile(filepath.Join(dir, "enrich.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "enrich.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "enrich.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	if _, on := ath.Activities["fromNobody"].Ports["out"]; !on {
		t.Errorf("fromNobody: %v, want out active with 0 rows", ath.Activities["fromNobody"].Ports)
	}
	cols := map[string][]string{
		"enriched": {"customerId", "level", "city", "orders", "skus", "bigOrders", "distinctSkus", "distinctBigSkus", "spend", "spend365",
			"weekendBuys", "recentSpend", "round(basket, 6)", "round(bigBasket, 6)", "firstBuy", "lastBuy", "topSku", "storeCountry",
			"last1Sku", "last1Amount", "last2Sku", "last2Amount", "big1PurchasedAt", "goldMate", "goldTwin", "ghost"},
		"buys":  {"purchaseId", "city", "buyerTier", "buyerStoreCity"},
		"again": {"customerId", "spend", "last1Sku", "lastAmount"},
	}
	for id, c := range cols {
		d := rowsOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, id, "out", c)
		a := rowsOf(t, filepath.Join(dir, "home-athena"), ath.RunID, id, "out", c)
		if d != a {
			dl, al := strings.Split(d, "\n"), strings.Split(a, "\n")
			for i := range dl {
				if i < len(al) && dl[i] != al[i] {
					t.Errorf("%s: rows differ on Athena; first:\nduckdb %s\nathena %s", id, dl[i], al[i])
					break
				}
			}
		}
	}
	// Not a weak case: every kind of value is set somewhere.
	for _, c := range []string{"city", "bigOrders", "distinctBigSkus", "spend365", "recentSpend", "bigBasket", "topSku", "last2Sku", "big1PurchasedAt", "goldMate", "goldTwin"} {
		if n := nonNull(t, filepath.Join(dir, "home-athena"), ath.RunID, "enriched", c); n == 0 {
			t.Errorf("enriched.%s is never set: a weak case", c)
		}
	}
	if n := nonNull(t, filepath.Join(dir, "home-athena"), ath.RunID, "enriched", "ghost"); n != 0 {
		t.Errorf("enriched.ghost: %d values from an inactive input", n)
	}
	unloads(t, dir, ath.RunID, "enriched", "fromNobody", "buys", "again")
	t.Logf("%v", ports(ath))
}

// unloads checks that each active port of the activities is Athena's
// output: one UNLOAD file (the stand-in writes one).
func unloads(t *testing.T, dir, runID string, ids ...string) {
	t.Helper()
	for _, id := range ids {
		ports, _ := filepath.Glob(filepath.Join(dir, "home-athena", "blob", "runs", runID, id, "*"))
		if len(ports) == 0 {
			t.Errorf("%s: no port written", id)
		}
		for _, p := range ports {
			if files, _ := filepath.Glob(filepath.Join(p, "athena", "part-*")); len(files) != 1 {
				t.Errorf("%s.%s: %d UNLOAD outputs, want 1", id, filepath.Base(p), len(files))
			}
		}
	}
}

// Combine on Athena (one statement per port; the union's first row per key
// by a subquery's row number) gives each port as many rows as on DuckDB,
// with the same keys: union, intersection and exclusion of two and three
// inputs, complement, an explicit key with nulls and duplicates (email),
// inputs of other columns (taken by name, null where missing), inactive
// inputs (first and other), purchases populations and inputs that are
// Athena's output.
func TestCombineAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-combine
dimension: customers
timezone: Europe/Paris
activities:
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - { id: fr, type: build-audience, where: { field: country, op: eq, value: FR } }
  - { id: optIn, type: build-audience, where: { field: emailOptIn, op: eq, value: true } }
  - id: nobody
    type: build-audience
    emptyOutput: false
    where: { field: firstName, op: eq, value: "no such name" }
  - id: withCity
    type: enrichment
    from: fr
    add: [{ name: city, field: store.city }]
  - { id: union3, type: combine, operation: union, from: [gold, fr, optIn] }
  - { id: unionCols, type: combine, operation: union, from: [withCity, gold] }
  - { id: unionFirstEmpty, type: combine, operation: union, from: [nobody, gold, fr] }
  - { id: both, type: combine, operation: intersection, from: [gold, fr], complement: true }
  - { id: all3, type: combine, operation: intersection, from: [optIn, gold, fr], complement: true }
  - { id: withNobody, type: combine, operation: intersection, from: [gold, nobody], complement: true }
  - { id: except, type: combine, operation: exclusion, from: [optIn, gold, fr], complement: true }
  - { id: exceptNobody, type: combine, operation: exclusion, from: [gold, nobody], complement: true }
  - { id: byEmail, type: combine, operation: exclusion, key: [email], from: [optIn, gold], complement: true }
  - { id: emailUnion, type: combine, operation: union, key: [email], from: [gold, fr] }
  - { id: emailBoth, type: combine, operation: intersection, key: [email], from: [fr, optIn], complement: true }
  - { id: chained, type: combine, operation: exclusion, from: [union3, both.complement] }
  - { id: bigBuys, type: build-audience, dimension: purchases, where: { field: amount, op: gte, value: 50 } }
  - { id: recentBuys, type: build-audience, dimension: purchases, where: { field: purchasedAt, op: gt, value: { ago: 365d } } }
  - { id: bigRecent, type: combine, operation: intersection, from: [bigBuys, recentBuys], complement: true }
  - { id: buysUnion, type: combine, operation: union, key: [customerId], from: [bigBuys, recentBuys] }
`
	if err := os.WriteFile(filepath.Join(dir, "combine.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "combine.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "combine.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	checks := []struct {
		id, port string
		cols     []string
	}{
		{"union3", "out", []string{"customerId", "tier", "country"}},
		{"unionCols", "out", []string{"customerId", "city"}},
		{"unionFirstEmpty", "out", []string{"customerId", "email"}},
		{"both", "out", []string{"customerId"}}, {"both", "complement", []string{"customerId", "tier"}},
		{"all3", "out", []string{"customerId"}}, {"all3", "complement", []string{"customerId"}},
		{"withNobody", "complement", []string{"customerId"}},
		{"except", "out", []string{"customerId"}}, {"except", "complement", []string{"customerId"}},
		{"exceptNobody", "out", []string{"customerId"}},
		{"byEmail", "out", []string{"customerId", "email"}}, {"byEmail", "complement", []string{"customerId", "email"}},
		{"emailUnion", "out", []string{"customerId", "email"}},
		{"emailBoth", "out", []string{"customerId", "email"}}, {"emailBoth", "complement", []string{"customerId", "email"}},
		{"chained", "out", []string{"customerId"}},
		{"bigRecent", "out", []string{"purchaseId"}}, {"bigRecent", "complement", []string{"purchaseId"}},
		{"buysUnion", "out", []string{"purchaseId", "customerId"}},
	}
	for _, c := range checks {
		if ath.Activities[c.id].Ports[c.port] == 0 {
			t.Errorf("%s.%s is empty: a weak case", c.id, c.port)
		}
		d := rowsOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, c.id, c.port, c.cols)
		a := rowsOf(t, filepath.Join(dir, "home-athena"), ath.RunID, c.id, c.port, c.cols)
		if d != a {
			t.Errorf("%s.%s holds other rows on Athena", c.id, c.port)
		}
	}
	for _, c := range []struct{ id, port string }{{"withNobody", "out"}, {"exceptNobody", "complement"}} {
		if n, on := ath.Activities[c.id].Ports[c.port]; !on || n != 0 {
			t.Errorf("%s.%s: %d rows (active %v), want an active empty port", c.id, c.port, n, on)
		}
	}
	if n := nonNull(t, filepath.Join(dir, "home-athena"), ath.RunID, "unionCols", "city"); n == 0 || n == ath.Activities["unionCols"].Ports["out"] {
		t.Errorf("unionCols.city set on %d rows: want the FR rows only", n)
	}
	unloads(t, dir, ath.RunID, "union3", "unionFirstEmpty", "all3", "withNobody", "except", "byEmail", "chained", "bigRecent")
	t.Logf("%v", ports(ath))
}

// stage opens a run's port dataset as the view v.
func stage(t *testing.T, home, runID, activity, port string) (*dataset.Engine, func()) {
	t.Helper()
	return stageRef(t, home, "runs/"+runID+"/"+activity+"/"+port)
}

// stageRef opens the dataset at ref of a run home's store as the view v.
func stageRef(t *testing.T, home, ref string) (*dataset.Engine, func()) {
	t.Helper()
	eng, err := dataset.New(dataset.Options{Store: homeStore(t, home), WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.StageDataset(context.Background(), "v", dataset.Ref(ref)); err != nil {
		eng.Close()
		t.Fatal(err)
	}
	return eng, func() { eng.Close() }
}

// homeStore is a run home's store (the local executor's folder).
func homeStore(t *testing.T, home string) *folderblob.Store {
	t.Helper()
	store, err := folderblob.New(filepath.Join(home, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// rowsOf lists the rows of a port's dataset of a run as text, one line per
// row of the given expressions (column names are quoted), in order.
func rowsOf(t *testing.T, home, runID, activity, port string, exprs []string) string {
	t.Helper()
	eng, done := stage(t, home, runID, activity, port)
	defer done()
	items := make([]string, len(exprs))
	for i, e := range exprs {
		if !strings.Contains(e, "(") {
			e = dataset.QuoteIdent(e)
		} else {
			open := strings.Index(e, "(") + 1
			name := e[open:strings.IndexAny(e, ",)")]
			e = e[:open] + dataset.QuoteIdent(name) + e[open+len(name):]
		}
		items[i] = "COALESCE(CAST(" + e + " AS VARCHAR), 'null')"
	}
	line := strings.Join(items, " || '|' || ")
	row, err := eng.QueryRow(context.Background(), "SELECT string_agg("+line+", chr(10) ORDER BY "+line+") FROM v")
	if err != nil {
		t.Fatalf("%s.%s: %v", activity, port, err)
	}
	s, _ := row[0].(string)
	return s
}

// nonNull counts the rows of enriched.col with a value.
func nonNull(t *testing.T, home, runID, activity, col string) int64 {
	t.Helper()
	eng, done := stage(t, home, runID, activity, "out")
	defer done()
	row, err := eng.QueryRow(context.Background(), "SELECT count("+dataset.QuoteIdent(col)+") FROM v")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := row[0].(int64)
	return n
}
