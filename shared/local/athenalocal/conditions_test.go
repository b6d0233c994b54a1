package athenalocal_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Conditions beyond the examples' (winback's lapsed: a relative date and a
// grouped link aggregate; one-links, counts, exists; values with quotes,
// backslashes and LIKE wildcards; parameters) select the same rows on
// Athena as on DuckDB.
func TestConditionsAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, 2000)
	const campaign = `version: 1
id: athena-conditions
dimension: customers
timezone: Europe/Paris
parameters:
  country: { type: string, default: "F'R" }
  minSpend: { type: number, default: 50.5 }
activities:
  - id: lapsed
    type: build-audience
    where:
      all:
        - { field: lastPurchaseAt, op: lt, value: { ago: 90d } }
        - { field: emailOptIn, op: eq, value: true }
        - { link: purchases, aggregate: sum, field: amount, op: gte, value: 100 }
  - id: linked
    type: build-audience
    where:
      any:
        - { field: store.city, op: in, value: ["Paris", "O'Neil \\ town", "Zoë"] }
        - { link: purchases, aggregate: count, op: gte, value: 3, where: { field: amount, op: gt, value: { param: minSpend } } }
        - { link: purchases, exists: { field: sku, op: like, value: "S_U-1%" } }
  - id: strings
    type: build-audience
    where:
      any:
        - { field: email, op: contains, value: "'; DROP TABLE customers; --" }
        - { field: firstName, op: startsWith, value: "A" }
        - { field: country, op: eq, value: { param: country } }
        - { field: phone, op: isEmpty }
  - id: ranges
    type: build-audience
    where:
      all:
        - { field: email, op: notContains, value: "%" }
        - { field: tier, op: notIn, value: [gold] }
        - { field: signupAt, op: between, value: ["2020-01-01", "2025-06-30T12:00:00"] }
        - { field: birthDate, op: gte, value: "1980-01-01" }
  - id: nobody
    type: build-audience
    emptyOutput: false
    where: { field: firstName, op: eq, value: "no such name '" }
`
	if err := os.WriteFile(filepath.Join(dir, "conditions.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "conditions.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "conditions.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	for _, id := range []string{"lapsed", "linked", "strings", "ranges"} {
		if n := ath.Activities[id].Ports["out"]; n == 0 || n == 2000 {
			t.Errorf("%s selects %d of 2000: a weak case", id, n)
		}
	}
	if _, on := ath.Activities["nobody"].Ports["out"]; on {
		t.Errorf("nobody: emptyOutput false left the port on")
	}
	t.Logf("%v", ports(ath))
}
