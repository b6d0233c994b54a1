package athenalocal_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
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

// single: true (one port with a segment code) is refused on Athena, naming
// the activity and the field.
func TestSplitSingleRefusedOnAthena(t *testing.T) {
	dir := workspace(t, 10)
	const campaign = `version: 1
id: athena-single
dimension: customers
timezone: UTC
activities:
  - { id: all, type: build-audience }
  - { id: coded, type: split, from: all, single: true, segments: [{ name: gold, where: { field: tier, op: eq, value: gold } }] }
`
	f := filepath.Join(dir, "single.yaml")
	if err := os.WriteFile(f, []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := builtin.CompileFiles(f, filepath.Join(dir, "catalog-athena.yaml"))
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "activities[1].single: activity coded: single is not yet on athena") {
		t.Errorf("single on athena: %v", diags)
	}
}
