package athenalocal_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Split on Athena (a CTE per segment, one statement per port) gives each
// port as many rows as on DuckDB: conditions with links, limits by count
// and percent (ordered and random), skipEmpty, overlap and others; the
// ordered segments hold the same rows.
func TestSplitAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-split
dimension: customers
timezone: Europe/Paris
activities:
  - { id: all, type: build-audience }
  - id: bySpend
    type: split
    from: all
    segments:
      - name: big
        where: { link: purchases, aggregate: sum, field: amount, op: gte, value: 300 }
        limit: { count: 40, orderBy: [{ field: lastPurchaseAt, desc: true }] }
      - name: gold
        where: { field: tier, op: eq, value: gold }
      - name: nobody
        where: { field: firstName, op: eq, value: "no such name" }
        skipEmpty: true
      - name: half
        where: { field: emailOptIn, op: eq, value: true }
        limit: { percent: 50.5, orderBy: [{ field: signupAt }] }
      - name: sample
        limit: { percent: 10, random: true }
    others: true
  - id: overlapping
    type: split
    from: bySpend.half
    overlap: true
    segments:
      - { name: fr, where: { field: country, op: eq, value: FR } }
      - { name: optIn, where: { field: emailOptIn, op: eq, value: true }, limit: { count: 25, orderBy: [{ field: customerId }] } }
    others: true
`
	if err := os.WriteFile(filepath.Join(dir, "split.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "split.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "split.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	p := ath.Activities["bySpend"].Ports
	for _, port := range []string{"big", "gold", "half", "sample", "others"} {
		if p[port] == 0 {
			t.Errorf("bySpend.%s is empty: a weak case", port)
		}
	}
	if _, on := p["nobody"]; on {
		t.Errorf("bySpend.nobody: skipEmpty left an empty port on")
	}
	for _, port := range []string{"big", "gold", "half"} {
		d := keysOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, "bySpend", port, "customerId")
		a := keysOf(t, filepath.Join(dir, "home-athena"), ath.RunID, "bySpend", port, "customerId")
		if d != a {
			t.Errorf("bySpend.%s holds other rows on Athena", port)
		}
	}
	t.Logf("%v", ports(ath))
}

// single: true on Athena (one UNLOAD over the segments' CTEs, each row
// with its segment's code) gives the rows and codes DuckDB gives: ordered
// limits (count and percent), others (a null code), without and with
// overlap (a row once per segment it is in), and an input that already has
// a segmentCode (replaced); a downstream activity reads the code.
func TestSplitSingleAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-single
dimension: customers
timezone: Europe/Paris
activities:
  - { id: all, type: build-audience }
  - id: coded
    type: split
    from: all
    single: true
    segments:
      - name: big
        code: BIG
        where: { link: purchases, aggregate: sum, field: amount, op: gte, value: 300 }
        limit: { count: 40, orderBy: [{ field: lastPurchaseAt, desc: true }] }
      - name: gold
        where: { field: tier, op: eq, value: gold }
      - name: half
        where: { field: emailOptIn, op: eq, value: true }
        limit: { percent: 50.5, orderBy: [{ field: signupAt }] }
    others: true
  - id: overlapping
    type: split
    from: coded
    single: true
    overlap: true
    segments:
      - { name: fr, code: France, where: { field: country, op: eq, value: FR } }
      - { name: optIn, where: { field: emailOptIn, op: eq, value: true }, limit: { count: 25, orderBy: [{ field: customerId }] } }
      - { name: nobody, where: { field: firstName, op: eq, value: "no such name" } }
  - id: perCode
    type: deduplication
    from: coded
    by: [segmentCode]
    keep: 3
    method: first
    orderBy: [{ field: customerId }]
`
	if err := os.WriteFile(filepath.Join(dir, "single.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "single.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "single.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	// codes each output must hold: BIG, gold, half and others' null; fr and
	// optIn (rows in both repeated; nobody's none).
	for a, want := range map[string]int{"coded": 4, "overlapping": 2, "perCode": 4} {
		d := codesOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, a)
		c := codesOf(t, filepath.Join(dir, "home-athena"), ath.RunID, a)
		if !reflect.DeepEqual(d, c) {
			t.Errorf("%s: other (customerId, segmentCode) rows on Athena\nduckdb %v\nathena %v", a, d, c)
		}
		if len(d) != want {
			t.Errorf("%s: %d codes, want %d", a, len(d), want)
		}
		unloaded, _ := filepath.Glob(filepath.Join(dir, "home-athena", "blob", "runs", ath.RunID, a, "out", "athena", "part-*"))
		if len(unloaded) != 1 {
			t.Errorf("%s.out: %d UNLOAD outputs, want 1", a, len(unloaded))
		}
	}
	t.Logf("%v", ports(ath))
}

// codesOf counts a single split's rows by segmentCode (null: "-"), with
// the customerIds of each code in order.
func codesOf(t *testing.T, home, runID, activity string) map[string]string {
	t.Helper()
	eng, done := stage(t, home, runID, activity, "out")
	defer done()
	ctx := context.Background()
	out := map[string]string{}
	err := eng.Query(ctx, 0, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			out[r[0].(string)] = r[1].(string)
		}
		return nil
	}, `SELECT coalesce("segmentCode", '-'), count(*) || ': ' || string_agg(CAST("customerId" AS VARCHAR), ',' ORDER BY "customerId") FROM v GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
