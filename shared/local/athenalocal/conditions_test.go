package athenalocal_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
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

// Date parts and windows in the recipients' zones (customers.timezone),
// every operator, and saved audiences select the same rows on Athena as on
// DuckDB, at injected clocks: the package's, 29 February 2028 and 28
// February 2027 (29 February birthdays are greeted on the 28th), and the
// hours around Paris's and New York's spring DST changes.
func TestDateConditionsAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, 2000)
	const save = `version: 1
id: save-gold
dimension: customers
activities:
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - { id: save, type: save-audience, from: gold, audience: gold-club, fields: [email] }
`
	const dates = `version: 1
id: athena-dates
dimension: customers
timezone: Europe/Paris
activities:
  - id: birthdays
    type: build-audience
    emptyOutput: true
    where: { field: birthDate, op: anniversary }
  - id: birthMonth
    type: build-audience
    where: { field: birthDate, op: anniversary, within: 30d }
  - id: leapBorn
    type: build-audience
    where: { all: [{ field: birthDate, part: month, op: eq, value: 2 }, { field: birthDate, part: day, op: eq, value: 29 }] }
  - id: recent
    type: build-audience
    where: { field: lastPurchaseAt, op: inLast, within: 500d }
  - id: weekend
    type: build-audience
    where: { field: lastPurchaseAt, part: weekday, op: in, value: [sat, sun] }
  - id: spring
    type: build-audience
    where: { all: [{ field: signupAt, part: month, op: between, value: [3, 5] }, { field: signupAt, part: year, op: gte, value: 2022 }] }
  - id: ahead
    type: build-audience
    emptyOutput: true
    where: { any: [{ field: lastPurchaseAt, op: inNext, within: 7d }, { field: signupAt, op: anniversary, within: 0d }] }
  - id: boughtToday
    type: build-audience
    emptyOutput: true
    where: { link: purchases, exists: { field: purchasedAt, op: inLast, within: 0d } }
  - id: goldClub
    type: build-audience
    where: { all: [{ inAudience: gold-club }, { field: lastPurchaseAt, op: inLast, within: 800d }] }
  - id: notGold
    type: build-audience
    where: { not: { inAudience: gold-club } }
  - id: split
    type: split
    from: recent
    segments:
      - { name: birthday, where: { field: birthDate, op: anniversary, within: 60d } }
      - { name: weekend, where: { field: lastPurchaseAt, part: weekday, op: eq, value: sun } }
    others: true
`
	for f, src := range map[string]string{"save.yaml": save, "dates.yaml": dates} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The audience is saved once in each home (on DuckDB: save-audience
	// is not on Athena here).
	runAt(t, dir, "save.yaml", "catalog.yaml", "home-duckdb", now, false)
	runAt(t, dir, "save.yaml", "catalog.yaml", "home-athena", now, false)
	var weak []string
	for _, at := range []time.Time{
		now,
		time.Date(2027, 2, 28, 12, 0, 0, 0, time.UTC),  // no 29 February in 2027
		time.Date(2028, 2, 28, 23, 30, 0, 0, time.UTC), // the 29th in Paris, the 28th in New York
		time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC),
		time.Date(2027, 3, 14, 6, 30, 0, 0, time.UTC),  // 01:30 EST in New York, before its change
		time.Date(2027, 3, 28, 0, 30, 0, 0, time.UTC),  // 01:30 CET in Paris, before its change
		time.Date(2027, 3, 28, 22, 30, 0, 0, time.UTC), // 00:30 CEST on the 29th in Paris
	} {
		duck := runAt(t, dir, "dates.yaml", "catalog.yaml", "home-duckdb", at, true)
		ath := runAt(t, dir, "dates.yaml", "catalog-athena.yaml", "home-athena", at, true)
		if !reflect.DeepEqual(ports(duck), ports(ath)) {
			t.Errorf("at %s: counts differ\nduckdb %v\nathena %v", at.Format(time.RFC3339), ports(duck), ports(ath))
		}
		for _, id := range []string{"birthMonth", "recent", "weekend", "spring", "goldClub", "notGold"} {
			if n := ath.Activities[id].Ports["out"]; n == 0 || n == 2000 {
				weak = append(weak, fmt.Sprintf("%s %d at %s", id, n, at.Format(time.RFC3339)))
			}
		}
		// The same customers, not only as many (at the leap and DST clocks).
		if at.Year() == 2028 && at.Day() == 29 || at.Hour() == 22 {
			for _, id := range []string{"birthdays", "birthMonth", "weekend", "goldClub"} {
				if ath.Activities[id].Ports["out"] == 0 {
					continue
				}
				d := keysOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, id, "out", "customerId")
				a := keysOf(t, filepath.Join(dir, "home-athena"), ath.RunID, id, "out", "customerId")
				if d != a {
					t.Errorf("at %s: %s: customers differ", at.Format(time.RFC3339), id)
				}
			}
		}
		t.Logf("at %s: %v", at.Format(time.RFC3339), ports(ath))
	}
	if len(weak) > 0 {
		t.Errorf("weak cases (none or all of 2000 selected): %v", weak)
	}
}
