package targeting_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/state"
)

func TestBuildAudience(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: fr, type: build-audience, where: { field: country, op: eq, value: FR } }
  - id: spenders
    type: build-audience
    where: { link: purchases, aggregate: sum, field: amount, op: gte, value: 20 }
  - { id: none, type: build-audience, where: { field: country, op: eq, value: XX } }
  - { id: noneOff, type: build-audience, where: { field: country, op: eq, value: XX }, emptyOutput: false }
  - { id: notA, type: build-audience, where: { not: { field: email, op: eq, value: a@x.com } } }
  - { id: notSpenders, type: build-audience, where: { not: { link: purchases, aggregate: sum, field: amount, op: gte, value: 20 } } }
  - { id: minSku, type: build-audience, where: { any: [ { field: country, op: eq, value: XX }, { link: purchases, aggregate: max, field: amount, op: lt, value: 20 } ] } }
  - { id: buyers, type: build-audience, dimension: purchases, where: { field: store.city, op: eq, value: Berlin } }
`)
	fr := e.must(p, "fr", opts{})
	eq(t, "fr", e.ids(fr, "out"), list("C01 C02 C05 C09"))
	if fr.Counts["out"] != 4 {
		t.Errorf("fr count %d", fr.Counts["out"])
	}
	// Every column of the table, in catalog order.
	m := e.manifest(fr, "out")
	eq(t, "columns", m.ColumnNames(), list("customerId email country tier points storeId signupAt"))
	if m.Dimension != "customers" || len(m.Key) != 1 || m.Key[0] != "customerId" {
		t.Errorf("manifest %+v", m)
	}
	eq(t, "row", e.strs("SELECT * FROM "+e.view(fr, "out")+" WHERE customerId = 'C05'"), []string{"C05|∅|FR|bronze|10|∅|2026-01-05"})
	// Written narrow: the key in the files, the rest read from the run's
	// snapshot of the table.
	if m.Base == nil || len(m.Base.Columns) != 6 || !strings.HasSuffix(string(m.Base.Ref), "/-tables/customers") {
		t.Errorf("base %+v, want the snapshot of customers with its 6 non-key columns", m.Base)
	}

	// sum(amount) per customer: C01 35.75, C02 100, C03 14, C07 300, C09 null.
	sp := e.must(p, "spenders", opts{})
	eq(t, "spenders", e.ids(sp, "out"), list("C01 C02 C07"))

	// The complement: no purchases, or a null sum (C09), is not >= 20.
	eq(t, "not spenders", e.ids(e.must(p, "notSpenders", opts{}), "out"), list("C03 C04 C05 C06 C08 C09 C10"))
	eq(t, "max < 20 inside any", e.ids(e.must(p, "minSku", opts{}), "out"), e.strs(
		"SELECT DISTINCT customerId FROM ("+purchasesSQL+") GROUP BY customerId HAVING max(amount) < 20 ORDER BY 1"))

	none := e.must(p, "none", opts{})
	if !active(none, "out") || none.Counts["out"] != 0 {
		t.Errorf("empty output should be activated with 0 rows: %+v", none)
	}
	off := e.must(p, "noneOff", opts{})
	if active(off, "out") {
		t.Errorf("emptyOutput false: port should be off: %+v", off)
	}
	// A comparison with null is false; not makes it true.
	eq(t, "not a@x.com", e.ids(e.must(p, "notA", opts{}), "out"), list("C03 C04 C05 C06 C07 C08 C09 C10"))
	eq(t, "purchases in Berlin", e.col(e.must(p, "buyers", opts{}), "out", "purchaseId"), list("P04 P05 P06 P08"))

	e.rerunSame(p, "spenders", opts{}, sp)
	e.rerunSame(p, "noneOff", opts{}, off)
}

// newVersion commits a new version of the customers table: the fixture
// rows plus extra ones (customerId, email, country, tier, points, storeId, signupAt).
func (e *env) newVersion(version int64, extra string) {
	e.t.Helper()
	ctx := context.Background()
	ref := dataset.Ref(fmt.Sprintf("warehouse/customers/v%d", version))
	q := "SELECT * FROM (" + customersSQL + ") UNION ALL SELECT * FROM (VALUES " + extra + ") AS x(customerId, email, country, tier, points, storeId, signupAt)"
	if _, err := e.eng.Write(ctx, dataset.Output{Ref: ref, Dimension: "customers", Key: []string{"customerId"}}, q); err != nil {
		e.t.Fatal(err)
	}
	if _, err := tablelog.New(e.blob, nil).CommitTable(ctx, "customers", version-1, string(ref), time.Now()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) incremental(id string) state.Incremental {
	e.t.Helper()
	inc, err := e.state.GetIncremental(context.Background(), "t", id)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		e.t.Fatal(err)
	}
	return inc
}

func TestIncrementalSinceField(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: inc, type: incremental-query, since: { field: signupAt } }
`)
	// First run: every row with a signup (C09's is null).
	r1 := e.must(p, "inc", opts{run: "r1"})
	eq(t, "run 1", e.ids(r1, "out"), list("C01 C02 C03 C04 C05 C06 C07 C08 C10"))
	st := e.incremental("inc")
	if st.Rev != 1 || !st.HighWater.Equal(time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("state after run 1: %+v", st)
	}
	// A retried task (output recomputed or found) gives the same rows and
	// does not advance again.
	e.rerunSame(p, "inc", opts{run: "r1"}, r1)
	e.must(p, "inc", opts{run: "r1"})
	if st := e.incremental("inc"); st.Rev != 1 {
		t.Fatalf("retry advanced the state: %+v", st)
	}

	// New rows: C11 and C13 are later than the mark, C12 is not.
	e.newVersion(1, `('C11', 'e@x.com', 'FR', 'gold', 1, 'S1', TIMESTAMPTZ '2026-02-01 00:00:00+00'),
		('C12', 'f@x.com', 'FR', 'gold', 1, 'S1', TIMESTAMPTZ '2026-01-09 00:00:00+00'),
		('C13', 'g@x.com', 'FR', 'gold', 1, 'S1', TIMESTAMPTZ '2026-03-01 00:00:00+00')`)
	tr := e.must(p, "inc", opts{run: "t2", test: true})
	eq(t, "test run", e.ids(tr, "out"), list("C11 C13"))
	if st := e.incremental("inc"); st.Rev != 1 {
		t.Fatalf("a test run advanced the state: %+v", st)
	}
	r2 := e.must(p, "inc", opts{run: "r2"})
	eq(t, "run 2", e.ids(r2, "out"), list("C11 C13"))
	st = e.incremental("inc")
	if st.Rev != 2 || !st.HighWater.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || st.Runs[1].Count != 2 {
		t.Fatalf("state after run 2: %+v", st)
	}
	e.rerunSame(p, "inc", opts{run: "r2"}, r2)
	r3 := e.must(p, "inc", opts{run: "r3"})
	if active(r3, "out") || r3.Counts["out"] != 0 {
		t.Errorf("nothing new: the port stays off: %+v", r3)
	}
	if st := e.incremental("inc"); st.Rev != 3 || !st.HighWater.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("state after run 3: %+v", st)
	}
}

func TestIncrementalExcludePrevious(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: inc, type: incremental-query, where: { field: tier, op: eq, value: gold }, since: { excludePrevious: true } }
  - { id: day, type: incremental-query, where: { field: tier, op: eq, value: gold }, since: { excludePrevious: true, historyDays: 1 } }
`)
	r1 := e.must(p, "inc", opts{run: "r1"})
	eq(t, "run 1", e.ids(r1, "out"), list("C01 C04 C07 C10"))
	e.rerunSame(p, "inc", opts{run: "r1"}, r1)
	if st := e.incremental("inc"); st.Rev != 1 || st.KeysRef == "" {
		t.Fatalf("state after run 1: %+v", st)
	}
	r2 := e.must(p, "inc", opts{run: "r2"})
	if active(r2, "out") {
		t.Errorf("run 2 should return nothing: %+v", r2.Counts)
	}
	e.newVersion(1, `('C11', 'e@x.com', 'FR', 'gold', 1, 'S1', TIMESTAMPTZ '2026-02-01 00:00:00+00'),
		('C12', 'f@x.com', 'FR', 'bronze', 1, 'S1', TIMESTAMPTZ '2026-02-01 00:00:00+00')`)
	tr := e.must(p, "inc", opts{run: "t3", test: true})
	eq(t, "test run", e.ids(tr, "out"), list("C11"))
	r3 := e.must(p, "inc", opts{run: "r3"})
	eq(t, "run 3", e.ids(r3, "out"), list("C11"))
	e.rerunSame(p, "inc", opts{run: "r3"}, r3)
	st := e.incremental("inc")
	if st.Rev != 3 {
		t.Fatalf("state after run 3: %+v", st)
	}
	keys := e.strs("SELECT customerId FROM read_parquet('" + e.dir + "/blob/" + st.KeysRef + "/*.parquet') ORDER BY 1")
	eq(t, "keys returned so far", keys, list("C01 C04 C07 C10 C11"))

	// A one-day history: returned again once the day has passed.
	d1 := e.must(p, "day", opts{run: "d1"})
	eq(t, "day 1", e.ids(d1, "out"), list("C01 C04 C07 C10 C11"))
	d2 := e.must(p, "day", opts{run: "d2", now: runNow.Add(12 * time.Hour)})
	if active(d2, "out") {
		t.Errorf("within the day: %+v", d2.Counts)
	}
	d3 := e.must(p, "day", opts{run: "d3", now: runNow.Add(36 * time.Hour)})
	eq(t, "after the day", e.ids(d3, "out"), list("C01 C04 C07 C10 C11"))
}

func TestSaveAndReadAudience(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: big, type: build-audience, dimension: purchases, where: { field: amount, op: gt, value: 6 } }
  - { id: buyers, type: change-dimension, from: big, to: customers, via: customer }
  - { id: save, type: save-audience, from: buyers, audience: buyers, fields: [email] }
  - { id: saveAll, type: save-audience, from: buyers, audience: everything }
  - { id: read, type: read-audience, audience: buyers }
  - { id: inBuyers, type: build-audience, where: { inAudience: buyers } }
`)
	ctx := context.Background()
	big := e.must(p, "big", opts{})
	buyers := e.must(p, "buyers", opts{}, out("big", big)) // C01 C01 C02 C03 C03 C07

	// Test mode: nothing is written or recorded; out carries the input.
	ts := e.must(p, "save", opts{run: "t1", test: true}, out("buyers", buyers))
	if *ts.Ports["out"] != *buyers.Ports["out"] || ts.Counts["out"] != 6 {
		t.Errorf("test mode out: %+v", ts)
	}
	if _, err := e.state.GetAudience(ctx, "buyers"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("test mode saved the audience: %v", err)
	}
	if _, err := e.run(p, "read", opts{}); err == nil {
		t.Error("reading an audience never saved should fail")
	}

	s1 := e.must(p, "save", opts{run: "r1"}, out("buyers", buyers))
	if s1.Counts["out"] != 6 {
		t.Errorf("out count %d", s1.Counts["out"])
	}
	a, err := e.state.GetAudience(ctx, "buyers")
	if err != nil || a.Version != 1 || a.Count != 4 || a.Dimension != "customers" || a.RunID != "r1" {
		t.Fatalf("saved audience: %+v %v", a, err)
	}
	// A retried task does not add a version.
	e.must(p, "save", opts{run: "r1"}, out("buyers", buyers))
	if h, _ := e.state.AudienceHistory(ctx, "buyers"); len(h) != 1 {
		t.Fatalf("retry added a version: %+v", h)
	}
	r := e.must(p, "read", opts{run: "r1"})
	eq(t, "read", e.strs("SELECT customerId || ':' || email FROM "+e.view(r, "out")), list("C01:a@x.com C02:a@x.com C03:b@x.com C07:c@x.com"))
	eq(t, "audience columns", e.manifest(r, "out").ColumnNames(), list("customerId email"))
	eq(t, "inAudience", e.ids(e.must(p, "inBuyers", opts{run: "r1"}), "out"), list("C01 C02 C03 C07"))
	e.must(p, "saveAll", opts{run: "r1"}, out("buyers", buyers))
	ra, _ := e.state.GetAudience(ctx, "everything")
	if ra.Count != 4 {
		t.Errorf("everything: %+v", ra)
	}

	// Another run replaces the audience with a new version.
	few := e.fixture("fixtures/few", "customers", []string{"customerId"}, "SELECT * FROM ("+customersSQL+") WHERE customerId IN ('C05', 'C06')")
	few.From = "buyers"
	e.must(p, "save", opts{run: "r2"}, few)
	a, _ = e.state.GetAudience(ctx, "buyers")
	if a.Version != 2 || a.Count != 2 {
		t.Fatalf("version 2: %+v", a)
	}
	eq(t, "read v2", e.ids(e.must(p, "read", opts{run: "r2"}), "out"), list("C05 C06"))
	// The first run's read stays pinned to what it read.
	eq(t, "read r1 again", e.ids(e.must(p, "read", opts{run: "r1"}), "out"), list("C01 C02 C03 C07"))
}
