package athenalocal_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// firstCustomer is a cardinality-one link whose target columns are not the
// target's key: an input row takes the first customer of its country.
const firstCustomer = "  - name: stores\n    key: [storeId]\n    links:\n      - { name: firstCustomer, table: customers, on: { country: country }, cardinality: one }\n"

// dimsWorkspace is workspace with the firstCustomer link in both catalogs.
func dimsWorkspace(t *testing.T, n int) string {
	t.Helper()
	dir := workspace(t, n)
	for _, f := range []string{"catalog.yaml", "catalog-athena.yaml"} {
		b := mustRead(t, filepath.Join(dir, f))
		s := strings.Replace(b, "  - name: stores\n    key: [storeId]\n", firstCustomer, 1)
		if s == b {
			t.Fatal("the examples' catalog changed: no stores table to link")
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Change-dimension and reconciliation on Athena give every port as many
// rows as on DuckDB, and the same keys: change-dimension keep all (pairs,
// a many link, a one link to the target's key and one to other columns)
// and first, from an Athena output, an inactive input and a reconciled
// population; reconciliation by match pairs, by a where (join pairs and a
// residual on both sides, with a link), by a where without equality (every
// pair), unmatched rows and their reasons.
func TestDimsAthenaMatchDuckDB(t *testing.T) {
	dir := dimsWorkspace(t, customers(2000))
	const campaign = `version: 1
id: athena-dims
dimension: customers
timezone: Europe/Paris
activities:
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - { id: toPurchases, type: change-dimension, from: gold, to: purchases, via: purchases }
  - { id: toStores, type: change-dimension, from: gold, to: stores, via: store, keep: all }
  - { id: storesOnce, type: change-dimension, from: gold, to: stores, via: store, keep: first }
  - { id: firsts, type: change-dimension, from: toStores, to: customers, via: firstCustomer }
  - { id: firstsOnce, type: change-dimension, from: toStores, to: customers, via: firstCustomer, keep: first }
  - { id: big, type: build-audience, dimension: purchases, where: { field: amount, op: gte, value: 50 } }
  - { id: buyers, type: change-dimension, from: big, to: customers, via: customer }
  - { id: buyersOnce, type: change-dimension, from: big, to: customers, via: customer, keep: first }
  - { id: back, type: change-dimension, from: buyersOnce, to: purchases, via: purchases, keep: first }
  - id: nobody
    type: build-audience
    emptyOutput: false
    where: { field: firstName, op: eq, value: "no such name" }
  - { id: fromNobody, type: change-dimension, from: nobody, to: purchases, via: purchases }
  - { id: small, type: build-audience, dimension: purchases, where: { field: amount, op: lt, value: 20 } }
  - id: byCustomer
    type: reconciliation
    from: small
    dimension: customers
    match: [{ input: customerId, field: customerId }]
    keepUnmatched: true
  - id: byStore
    type: reconciliation
    from: small
    dimension: customers
    where:
      all:
        - { field: storeId, op: eq, value: { field: storeId } }
        - { field: tier, op: eq, value: gold }
        - { field: amount, op: lt, value: 10 }
        - { link: purchases, aggregate: count, op: gte, value: 2 }
    keepUnmatched: true
  - id: tiny
    type: build-audience
    dimension: purchases
    where: { field: amount, op: lt, value: 3 }
  - id: anyOf
    type: reconciliation
    from: tiny
    dimension: customers
    where:
      any:
        - { field: customerId, op: eq, value: { field: customerId } }
        - { field: phone, op: eq, value: { field: sku } }
    keepUnmatched: true
  - { id: sameStore, type: reconciliation, from: small, dimension: customers, where: { all: [{ field: customerId, op: eq, value: { field: customerId } }, { field: storeId, op: eq, value: { field: storeId } }] } }
  - { id: theirStores, type: change-dimension, from: sameStore, to: stores, via: store, keep: first }
`
	if err := os.WriteFile(filepath.Join(dir, "dims.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := run(t, dir, "dims.yaml", "catalog.yaml", "home-duckdb")
	ath := run(t, dir, "dims.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	p := ports(ath)
	// Weak cases: pairs that repeat a target, a first that drops some, a
	// one link to other columns than the key taking one target per row
	// (keep first: every linked target), each reason present.
	for _, w := range []struct {
		ok   bool
		what string
	}{
		{p["toStores"]["out"] > p["storesOnce"]["out"], "toStores keeps every pair"},
		{p["firsts"]["out"] == p["toStores"]["out"] && p["firstsOnce"]["out"] > p["firsts"]["out"], "firsts: one customer per store row"},
		{p["buyers"]["out"] > p["buyersOnce"]["out"], "buyers repeats a customer"},
		{p["byCustomer"]["out"] == p["small"]["out"] && p["byCustomer"]["unmatched"] == 0, "byCustomer matches every purchase"},
		{p["byStore"]["out"] > 0 && p["byStore"]["unmatched"] > 0, "byStore matches some"},
		{p["anyOf"]["out"] > 0 && p["anyOf"]["unmatched"] == 0, "anyOf matches every purchase"},
		{p["sameStore"]["out"] > 0 && p["sameStore"]["out"] < p["small"]["out"], "sameStore matches some"},
		{p["fromNobody"]["out"] == 0, "fromNobody is empty"},
	} {
		if !w.ok {
			t.Errorf("weak case: %s: %v", w.what, p)
		}
	}
	for _, c := range []struct{ id, port, key string }{
		{"toPurchases", "out", "purchaseId"}, {"toStores", "out", "storeId"}, {"storesOnce", "out", "storeId"},
		{"firsts", "out", "customerId"}, {"firstsOnce", "out", "customerId"}, {"buyers", "out", "customerId"},
		{"buyersOnce", "out", "customerId"}, {"back", "out", "purchaseId"},
		{"byCustomer", "out", "customerId"}, {"byCustomer", "out", "amount"},
		{"byStore", "out", "customerId"}, {"byStore", "out", "purchaseId"}, {"byStore", "unmatched", "purchaseId"}, {"byStore", "unmatched", "reason"},
		{"anyOf", "out", "customerId"}, {"sameStore", "out", "purchaseId"}, {"theirStores", "out", "storeId"},
	} {
		d := keysOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, c.id, c.port, c.key)
		a := keysOf(t, filepath.Join(dir, "home-athena"), ath.RunID, c.id, c.port, c.key)
		if d != a {
			t.Errorf("%s.%s: other %s on Athena", c.id, c.port, c.key)
		}
	}
	if r := keysOf(t, filepath.Join(dir, "home-athena"), ath.RunID, "byStore", "unmatched", "reason"); !strings.Contains(r, "no match") || !strings.Contains(r, "several matches") {
		t.Errorf("byStore.unmatched reasons: want both, got %.80s", r)
	}
	t.Logf("%v", p)
}

// runLive is run, not in test mode: save-audience writes and records.
func runLive(t *testing.T, dir, campaign, catalog, home string) *runner.Summary {
	t.Helper()
	return runWith(t, dir, campaign, catalog, home, nil, false)
}

// runWith is run with parameters, live or a test run.
func runWith(t *testing.T, dir, campaign, catalog, home string, params map[string]any, test bool) *runner.Summary {
	t.Helper()
	return runOpts(t, dir, campaign, catalog, home, now, executor.Options{Params: params, Test: test})
}

// Save-audience on Athena (an UNLOAD under the audience's version) saves
// as many rows as on DuckDB, and what it saves is read back alike by
// read-audience and inAudience on both engines, whichever engine saved it;
// a test run saves nothing.
func TestAudiencesAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const save = `version: 1
id: athena-save
dimension: customers
timezone: Europe/Paris
activities:
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - { id: saveGold, type: save-audience, from: gold, audience: gold-dims, fields: [email, tier] }
  - { id: big, type: build-audience, dimension: purchases, where: { field: amount, op: gte, value: 50 } }
  - { id: buyers, type: change-dimension, from: big, to: customers, via: customer }
  - { id: saveBuyers, type: save-audience, from: buyers, audience: buyers-dims }
  - id: nobody
    type: build-audience
    emptyOutput: false
    where: { field: firstName, op: eq, value: "no such name" }
  - { id: saveNobody, type: save-audience, from: nobody, audience: nobody-dims }
`
	const read = `version: 1
id: athena-read
dimension: customers
timezone: Europe/Paris
activities:
  - { id: readGold, type: read-audience, audience: gold-dims }
  - { id: goldPurchases, type: change-dimension, from: readGold, to: purchases, via: purchases }
  - { id: readBuyers, type: read-audience, audience: buyers-dims }
  - id: inGold
    type: build-audience
    where: { all: [{ inAudience: gold-dims }, { field: emailOptIn, op: eq, value: true }] }
  - { id: notBuyers, type: build-audience, where: { not: { inAudience: buyers-dims } } }
`
	for name, src := range map[string]string{"save.yaml": save, "read.yaml": read} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A test run on Athena saves nothing.
	run(t, dir, "save.yaml", "catalog-athena.yaml", "home-test")
	if saved, _ := filepath.Glob(filepath.Join(dir, "home-test", "blob", "audiences", "*")); len(saved) > 0 {
		t.Errorf("a test run saved %v", saved)
	}
	duck := runLive(t, dir, "save.yaml", "catalog.yaml", "home-duckdb")
	ath := runLive(t, dir, "save.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("save: counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	if unloaded, _ := filepath.Glob(filepath.Join(dir, "home-athena", "blob", "audiences", "gold-dims", "*", "athena", "part-*")); len(unloaded) != 1 {
		t.Errorf("gold-dims: %d UNLOAD outputs, want 1", len(unloaded))
	}
	// Each engine reads what it saved, and what the other saved.
	var want map[string]map[string]int64
	for _, c := range []struct{ catalog, home string }{{"catalog.yaml", "home-duckdb"}, {"catalog-athena.yaml", "home-athena"},
		{"catalog.yaml", "home-athena"}, {"catalog-athena.yaml", "home-duckdb"}} {
		got := ports(runLive(t, dir, "read.yaml", c.catalog, c.home))
		if want == nil {
			want = got
			if got["readGold"]["out"] != ports(duck)["gold"]["out"] || got["readBuyers"]["out"] == 0 || got["readBuyers"]["out"] >= ports(duck)["buyers"]["out"] {
				t.Errorf("read: %v after save %v", got, ports(duck))
			}
			if got["inGold"]["out"] == 0 || got["inGold"]["out"] >= got["readGold"]["out"] || got["notBuyers"]["out"] == 0 {
				t.Errorf("weak case: %v", got)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("read on %s in %s: %v, want %v", c.catalog, c.home, got, want)
		}
	}
	d := keysOf(t, filepath.Join(dir, "home-duckdb"), duck.RunID, "gold", "out", "customerId")
	for _, home := range []string{"home-duckdb", "home-athena"} {
		if got := audienceKeys(t, filepath.Join(dir, home), "gold-dims"); got != d {
			t.Errorf("%s: gold-dims holds other customers than gold", home)
		}
	}
}

// audienceKeys lists the customerIds of an audience's only saved version.
func audienceKeys(t *testing.T, home, name string) string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(home, "blob", "audiences", name, "*"))
	if len(dirs) != 1 {
		t.Fatalf("%s: %d versions of %s", home, len(dirs), name)
	}
	return keysAt(t, home, "audiences/"+name+"/"+filepath.Base(dirs[0]), "customerId")
}

// Incremental-query (since.field) on Athena returns as many rows as on
// DuckDB run after run: the first run every matching row, a later one the
// rows past the mark the earlier ones left (on a timestamp and a date
// column), none when nothing is new (the port off); a test run leaves the
// mark. excludePrevious: see TestIncrementalExcludeAthenaMatchDuckDB.
func TestIncrementalAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-incremental
dimension: customers
timezone: Europe/Paris
parameters:
  upTo: { type: timestamp, required: true }
  born: { type: date, required: true }
activities:
  - id: signups
    type: incremental-query
    where: { field: signupAt, op: lt, value: { param: upTo } }
    since: { field: signupAt }
  - id: births
    type: incremental-query
    where: { field: birthDate, op: lt, value: { param: born } }
    since: { field: birthDate }
`
	if err := os.WriteFile(filepath.Join(dir, "incr.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		upTo, born string
		test       bool
	}{
		{"2025-01-01T00:00:00Z", "1970-01-01", false},
		{"2026-01-01T00:00:00Z", "1985-01-01", true},
		{"2026-01-01T00:00:00Z", "1985-01-01", false},
		{"2026-01-01T00:00:00Z", "1985-01-01", false},
		{"2026-11-01T00:00:00Z", "2000-01-01", false},
	}
	var got [2][]map[string]map[string]int64
	for i, c := range []struct{ catalog, home string }{{"catalog.yaml", "home-duckdb"}, {"catalog-athena.yaml", "home-athena"}} {
		for _, st := range steps {
			s := runWith(t, dir, "incr.yaml", c.catalog, c.home, map[string]any{"upTo": st.upTo, "born": st.born}, st.test)
			got[i] = append(got[i], ports(s))
		}
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", got[0], got[1])
	}
	runs := got[1]
	for _, id := range []string{"signups", "births"} {
		if runs[0][id]["out"] == 0 || runs[1][id]["out"] == 0 || runs[2][id]["out"] != runs[1][id]["out"] ||
			runs[3][id] != nil && runs[3][id]["out"] != 0 || runs[4][id]["out"] == 0 {
			t.Errorf("weak case: %s: %v", id, runs)
		}
	}
	t.Logf("%v", runs)
}

// Incremental-query with excludePrevious on Athena (the keys returned
// before registered as a Glue table, a NOT EXISTS in Trino; the finish
// writes the new returned keys) returns the same rows as on DuckDB run
// after run, and keeps the same keys: a test run in between leaves the
// state; within historyDays a key is not returned again, past it it is
// (the clock injected).
func TestIncrementalExcludeAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	const campaign = `version: 1
id: athena-excl
dimension: customers
timezone: Europe/Paris
parameters:
  upTo: { type: timestamp, required: true }
activities:
  - id: fresh
    type: incremental-query
    where: { field: signupAt, op: lt, value: { param: upTo } }
    since: { excludePrevious: true, historyDays: 2 }
  - id: ever
    type: incremental-query
    where: { field: signupAt, op: lt, value: { param: upTo } }
    since: { excludePrevious: true }
`
	if err := os.WriteFile(filepath.Join(dir, "excl.yaml"), []byte(campaign), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   time.Time
		upTo string
		test bool
	}{
		{now, "2025-01-01T00:00:00Z", false},                                    // 0: A
		{now.Add(time.Hour), "2026-01-01T00:00:00Z", true},                      // 1: B (test)
		{now.Add(time.Hour), "2026-01-01T00:00:00Z", false},                     // 2: B
		{now.Add(2 * time.Hour), "2026-01-01T00:00:00Z", false},                 // 3: nothing
		{now.Add(48*time.Hour + 30*time.Minute), "2026-01-01T00:00:00Z", false}, // 4: fresh: A again (expired)
		{now.Add(48*time.Hour + 40*time.Minute), "2026-01-01T00:00:00Z", false}, // 5: nothing
		{now.Add(10 * 24 * time.Hour), "2026-01-01T00:00:00Z", false},           // 6: fresh: A and B
	}
	type outcome struct {
		ports      map[string]map[string]int64
		keys, kept map[string]string
	}
	var got [2][]outcome
	for i, c := range []struct{ catalog, home string }{{"catalog.yaml", "home-duckdb"}, {"catalog-athena.yaml", "home-athena"}} {
		home := filepath.Join(dir, c.home)
		for _, st := range steps {
			s := runOpts(t, dir, "excl.yaml", c.catalog, c.home, st.at, executor.Options{Params: map[string]any{"upTo": st.upTo}, Test: st.test})
			o := outcome{ports: ports(s), keys: map[string]string{}, kept: map[string]string{}}
			for _, id := range []string{"fresh", "ever"} {
				if o.ports[id]["out"] > 0 {
					o.keys[id] = keysOf(t, home, s.RunID, id, "out", "customerId")
				}
				kept := "incremental/athena-excl/" + id + "/" + s.RunID
				_, err := os.Stat(filepath.Join(home, "blob", kept))
				if st.test != os.IsNotExist(err) {
					t.Fatalf("%s: test run %v, returned keys at %s: %v", c.home, st.test, kept, err)
				}
				if !st.test && o.ports[id]["out"] > 0 {
					o.kept[id] = keysAt(t, home, kept, "customerId")
				}
			}
			got[i] = append(got[i], o)
		}
	}
	for i := range steps {
		if !reflect.DeepEqual(got[0][i], got[1][i]) {
			t.Errorf("run %d differs\nduckdb %v\nathena %v", i, got[0][i], got[1][i])
		}
	}
	n := func(i int, id string) int64 { return got[1][i].ports[id]["out"] }
	for _, id := range []string{"fresh", "ever"} {
		if n(0, id) == 0 || n(1, id) == 0 || n(2, id) != n(1, id) || n(3, id) != 0 || n(5, id) != 0 {
			t.Errorf("weak case: %s: %v", id, got[1])
		}
	}
	if n(4, "fresh") != n(0, "fresh") || got[1][4].keys["fresh"] != got[1][0].keys["fresh"] || n(4, "ever") != 0 ||
		n(6, "fresh") != n(0, "fresh")+n(2, "fresh") || n(6, "ever") != 0 {
		t.Errorf("history: %v", got[1])
	}
	excluded := 0
	ranMu.Lock()
	for _, q := range ran {
		if strings.Contains(q, "NOT EXISTS") && strings.Contains(q, "_prevkeys_") {
			excluded++
		}
	}
	ranMu.Unlock()
	if excluded == 0 {
		t.Error("no Athena statement read the keys returned before")
	}
	for i := range got[1] {
		t.Logf("run %d: %v", i, got[1][i].ports)
	}
}
