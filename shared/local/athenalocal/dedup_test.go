package athenalocal_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Deduplication on Athena (a subquery numbering the rows, as Trino has no
// QUALIFY) keeps as many rows per port as on DuckDB, for every method,
// complement, keep 0, a purchases input, an inactive input and an input
// that is itself Athena's output.
func TestDeduplicationAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-dedup
dimension: customers
timezone: Europe/Paris
activities:
  - { id: all, type: build-audience }
  - id: first
    type: deduplication
    from: all
    by: [country]
    keep: 2
    method: first
    orderBy: [{ field: signupAt, desc: true }]
    complement: true
  - id: again
    type: deduplication
    from: first.duplicates
    by: [tier, emailOptIn]
    method: nonEmpty
    field: phone
    orderBy: [{ field: lastPurchaseAt }]
  - id: values
    type: deduplication
    from: all
    by: [storeId]
    method: values
    field: tier
    values: [gold, silver]
    orderBy: [{ field: customerId }]
    complement: true
  - id: random
    type: deduplication
    from: all
    by: [storeId, tier]
    keep: 3
    complement: true
  - id: none
    type: deduplication
    from: all
    by: [email]
    keep: 0
    complement: true
  - id: big
    type: build-audience
    dimension: purchases
    where: { field: amount, op: gte, value: 20 }
  - id: perCustomer
    type: deduplication
    from: big
    by: [customerId]
    method: first
    orderBy: [{ field: amount, desc: true }, { field: purchasedAt }]
  - id: nobody
    type: build-audience
    emptyOutput: false
    where: { field: firstName, op: eq, value: "no such name" }
  - { id: fromNobody, type: deduplication, from: nobody, by: [email], complement: true }
`
	if err := os.WriteFile(filepath.Join(dir, "dedup.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "dedup.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "dedup.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	for _, id := range []string{"first", "values", "random"} {
		p := ath.Activities[id].Ports
		if p["out"] == 0 || p["duplicates"] == 0 {
			t.Errorf("%s: %v: a weak case", id, p)
		}
	}
	// The methods that order rows keep the same rows (random draws others:
	// its hash differs by engine).
	for _, c := range []struct{ id, port, key string }{{"first", "out", "customerId"}, {"first", "duplicates", "customerId"},
		{"again", "out", "customerId"}, {"values", "out", "customerId"}, {"perCustomer", "out", "purchaseId"}} {
		d := keysOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, c.id, c.port, c.key)
		a := keysOf(t, filepath.Join(dir, "home-athena"), ath.RunID, c.id, c.port, c.key)
		if d != a {
			t.Errorf("%s.%s keeps other rows on Athena", c.id, c.port)
		}
	}
	unloaded, _ := filepath.Glob(filepath.Join(dir, "home-athena", "blob", "runs", ath.RunID, "first", "duplicates", "athena", "part-*"))
	if len(unloaded) != 1 {
		t.Errorf("first.duplicates: %d UNLOAD outputs, want 1", len(unloaded))
	}
	t.Logf("%v", ports(ath))
}

// keysOf lists the keys of a port's dataset of a run, in order.
func keysOf(t *testing.T, home, runID, activity, port, key string) string {
	t.Helper()
	return keysAt(t, home, "runs/"+runID+"/"+activity+"/"+port, key)
}

// keysAt lists the keys of the dataset at ref, in order.
func keysAt(t *testing.T, home, ref, key string) string {
	t.Helper()
	eng, done := stageRef(t, home, ref)
	defer done()
	ctx := context.Background()
	row, err := eng.QueryRow(ctx, "SELECT string_agg("+dataset.QuoteIdent(key)+", ',' ORDER BY "+dataset.QuoteIdent(key)+") FROM v")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := row[0].(string)
	if s == "" {
		t.Fatalf("%s: no rows", ref)
	}
	return s
}
