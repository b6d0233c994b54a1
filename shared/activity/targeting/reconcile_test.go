package targeting_test

import (
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
)

const reconCampaign = campaignHead + `
  - id: file
    type: load-file
    file: leads.csv
    columns:
      - { name: line, type: integer }
      - { name: email, type: string }
      - { name: cc, type: string }
      - { name: minPoints, type: integer }
      - { name: reason, type: string }
  - { id: known, type: reconciliation, from: file, match: [{ input: email, field: email }], keepUnmatched: true }
  - { id: dropped, type: reconciliation, from: file, match: [{ input: email, field: email }] }
  - id: byWhere
    type: reconciliation
    from: file
    keepUnmatched: true
    where:
      all:
        - { field: email, op: eq, value: { field: email } }
        - { field: country, op: eq, value: { field: cc } }
  - id: noEquality
    type: reconciliation
    from: file
    keepUnmatched: true
    where:
      all:
        - { field: points, op: gte, value: { field: minPoints } }
        - { field: store.city, op: eq, value: Paris }
`

// File rows: line 1 a@x.com matches C01 and C02; 2 and 6 b@x.com match C03;
// 3 matches nothing; 4 has a null email (null never matches); 5 d@x.com is C10.
const reconFile = `SELECT * FROM (VALUES
	(1, 'a@x.com', 'FR', 60,   'x'),
	(2, 'b@x.com', 'DE', 90,   NULL),
	(3, 'zz@x.com', 'FR', 0,   NULL),
	(4, NULL,      'DE', 100,  NULL),
	(5, 'd@x.com', 'FR', 75,   NULL),
	(6, 'b@x.com', 'DE', NULL, NULL)
) AS t(line, email, cc, minPoints, reason)`

func TestReconciliation(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(reconCampaign)
	file := e.fixture("fixtures/file", "", []string{"line"}, reconFile)
	file.From = "file"

	k := e.must(p, "known", opts{}, file)
	m := e.manifest(k, "out")
	if m.Dimension != "customers" || len(m.Key) != 1 || m.Key[0] != "customerId" {
		t.Errorf("out manifest: %+v", m)
	}
	// The dimension's columns, then the input's others (email is the dimension's).
	eq(t, "out columns", m.ColumnNames(), list("customerId email country tier points storeId signupAt line cc minPoints reason"))
	eq(t, "out", e.strs("SELECT customerId || ':' || line FROM "+e.view(k, "out")), list("C03:2 C03:6 C10:5"))
	eq(t, "unmatched", e.strs("SELECT line || ':' || reason FROM "+e.view(k, "unmatched")), []string{"1:several matches", "3:no match", "4:no match"})
	eq(t, "unmatched columns", e.manifest(k, "unmatched").ColumnNames(), list("line email cc minPoints reason"))

	d := e.must(p, "dropped", opts{}, file)
	if _, ok := d.Ports["unmatched"]; ok || d.Counts["out"] != 3 {
		t.Errorf("without keepUnmatched: %+v", d)
	}

	// email and country: line 1 (a@x.com, FR) still matches C01 and C02; line 5
	// (d@x.com, FR) no longer matches C10 (GB).
	w := e.must(p, "byWhere", opts{}, file)
	eq(t, "where out", e.strs("SELECT customerId || ':' || line FROM "+e.view(w, "out")), list("C03:2 C03:6"))
	eq(t, "where unmatched", e.strs("SELECT line || ':' || reason FROM "+e.view(w, "unmatched")),
		[]string{"1:several matches", "3:no match", "4:no match", "5:no match"})

	// No equality: every pair is compared. Customers of Paris stores (S1):
	// C01 100, C02 50, C08 70. Line 1 (>= 60): C01 C08; 2 (>= 90): C01;
	// 3 (>= 0): all three; 4 (>= 100): C01; 5 (>= 75): C01; 6: null.
	n := e.must(p, "noEquality", opts{}, file)
	eq(t, "no equality out", e.strs("SELECT customerId || ':' || line FROM "+e.view(n, "out")), list("C01:2 C01:4 C01:5"))
	eq(t, "no equality unmatched", e.strs("SELECT line || ':' || reason FROM "+e.view(n, "unmatched")),
		[]string{"1:several matches", "3:several matches", "6:no match"})

	e.rerunSame(p, "known", opts{}, k, file)
	e.rerunSame(p, "noEquality", opts{}, n, file)
}

// Reconciliation's out is written narrow over the dimension's table (its
// key and the input's columns): read back, the same rows in the same order
// as written wide.
func TestReconcileNarrowAgree(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(reconCampaign)
	file := e.fixture("fixtures/file", "", []string{"line"}, reconFile)
	file.From = "file"
	ids := []string{"known", "byWhere", "noEquality"}
	chain := func(run string) map[string]*activity.Result {
		res := map[string]*activity.Result{}
		for _, id := range ids {
			res[id] = e.must(p, id, opts{run: run}, file)
		}
		return res
	}
	narrow := chain("narrow")
	*targeting.ReconcileNarrow = false
	defer func() { *targeting.ReconcileNarrow = true }()
	wide := chain("wide")
	for _, id := range ids {
		if nm := e.manifest(narrow[id], "out"); nm.Base == nil || len(nm.Base.Columns) == 0 {
			t.Errorf("%s.out: not narrow: %+v", id, nm)
		}
		if wm := e.manifest(wide[id], "out"); wm.Base != nil {
			t.Errorf("%s.out: narrow with the switch off", id)
		}
		for _, port := range []string{"out", "unmatched"} {
			got := e.strs("SELECT * FROM " + e.view(narrow[id], port))
			want := e.strs("SELECT * FROM " + e.view(wide[id], port))
			if len(want) == 0 && port == "out" {
				t.Fatalf("%s.%s: no rows to compare", id, port)
			}
			eq(t, id+"."+port, got, want)
		}
		eq(t, id+" columns", e.manifest(narrow[id], "out").ColumnNames(), e.manifest(wide[id], "out").ColumnNames())
	}
}
