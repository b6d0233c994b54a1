package data_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/failure"
)

const udCatalog = `version: 1
tables:
  - name: customers
    key: [customerId]
    source: customers.csv
    columns:
      - { name: customerId, type: string }
      - { name: email, type: string }
      - { name: tier, type: string, enum: [bronze, silver, gold] }
      - { name: points, type: integer }
      - { name: score, type: number }
      - { name: optIn, type: boolean }
      - { name: lastContactAt, type: timestamp }
      - { name: lastContactOn, type: date }
      - { name: note, type: string }
`

const udCustomers = `customerId,email,tier,points,score,optIn,lastContactAt,lastContactOn,note
C1,a@x.com,bronze,10,1.5,true,,,
C2,b@x.com,silver,,2.5,false,,,
C3,c@x.com,gold,30,,true,2026-01-01T00:00:00Z,2026-01-01,old
C4,shared@x.com,bronze,0,,true,,,
C5,shared@x.com,bronze,5,,true,,,
`

const udCampaign = `version: 1
id: ud-test
dimension: customers
timezone: Europe/Paris
parameters:
  file: { type: string, default: none.csv }
  newTier: { type: string, default: gold }
variables:
  note: from-variable
activities:
  - id: f
    type: load-file
    file: { param: file }
    format: csv
    columns:
      - { name: id }
      - { name: email }
      - { name: tier }
      - { name: score }
  - id: u_update
    type: update-data
    from: f
    table: customers
    operation: update
    key: { customerId: id }
    set:
      tier: { field: tier }
      points: { increment: 5 }
      lastContactAt: { now: true }
      lastContactOn: { now: true }
      note: winback
  - id: u_insert
    type: update-data
    from: f
    table: customers
    operation: insert
    key: { customerId: id }
    set:
      email: { field: email }
      tier: { param: newTier }
      points: { increment: 1 }
      note: { variable: note }
  - id: u_upsert
    type: update-data
    from: f
    table: customers
    operation: upsert
    key: { customerId: id }
    set:
      points: { increment: 2 }
      score: { field: score }
    batchSize: 1000
  - id: u_delete
    type: update-data
    from: f
    table: customers
    operation: delete
    key: { customerId: id }
  - id: u_email
    type: update-data
    from: f
    table: customers
    operation: update
    key: { email: email }
    set:
      optIn: false
      note: null
  - id: u_count
    type: update-data
    from: f
    table: customers
    operation: upsert
    key: { customerId: id }
    set:
      points: { increment: 1 }
`

// udSetup compiles the update-data campaign over fresh customers.
func udSetup(t *testing.T) (*home, *compile.Program) {
	h := newHome(t)
	p := h.compile(map[string]string{"campaign.yaml": udCampaign, "catalog.yaml": udCatalog, "customers.csv": udCustomers})
	return h, p
}

// rowsInput writes input rows (id, email, tier, score) as f's population.
func (h *home) rowsInput(ref string, rows ...[4]string) activity.Input {
	var vals []string
	for _, r := range rows {
		cells := make([]string, 4)
		for i, c := range r {
			if c == "" {
				cells[i] = "NULL"
			} else {
				cells[i] = "'" + strings.ReplaceAll(c, "'", "''") + "'"
			}
		}
		vals = append(vals, "("+strings.Join(cells, ", ")+")")
	}
	q := "SELECT CAST(NULL AS VARCHAR) AS id, CAST(NULL AS VARCHAR) AS email, CAST(NULL AS VARCHAR) AS tier, CAST(NULL AS VARCHAR) AS score WHERE false"
	if len(vals) > 0 {
		q = "SELECT * FROM (VALUES " + strings.Join(vals, ", ") + ") t(id, email, tier, score)"
	}
	return h.input(ref, "", nil, q)
}

const allCols = "SELECT customerId, email, tier, points, score, optIn, lastContactAt, lastContactOn, note FROM v"

func TestUpdateDataUpdate(t *testing.T) {
	h, p := udSetup(t)
	in := h.rowsInput("in/upd", [4]string{"C1", "", "silver", ""}, [4]string{"C3", "", "gold", ""}, [4]string{"C9", "", "gold", ""},
		[4]string{"C2", "", "bronze", ""}, [4]string{"C2", "", "gold", ""}, [4]string{"", "", "gold", ""}, [4]string{"C5", "", "platinum", ""})
	res, err := h.run(h.env, p, request(p, "u_update", "r-upd", false, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "out", h.rows(*res.Ports["out"]), []string{"C1|∅|silver|∅", "C3|∅|gold|∅"})
	equal(t, "rejects", h.rows(*res.Ports["rejects"]), []string{
		"C2|∅|bronze|∅|the key appears 2 times in the input",
		"C2|∅|gold|∅|the key appears 2 times in the input",
		`C5|∅|platinum|∅|set tier: the value of input column tier is not one of bronze, silver, gold`,
		"C9|∅|gold|∅|the key is not in table customers",
		"∅|∅|gold|∅|key customerId (input column id) is empty",
	})
	if v := h.version("customers"); v.Version != 1 || !strings.HasPrefix(v.Ref, "warehouse/customers/v000001-u") {
		t.Errorf("version %+v", v)
	}
	// 09:30 UTC is 10:30 in Paris, the same day.
	equal(t, "table", h.tableRows("customers", allCols), []string{
		"C1|a@x.com|silver|15|1.5|true|2026-03-14T09:30:00Z|2026-03-14T00:00:00Z|winback",
		"C2|b@x.com|silver|∅|2.5|false|∅|∅|∅",
		"C3|c@x.com|gold|35|∅|true|2026-03-14T09:30:00Z|2026-03-14T00:00:00Z|winback",
		"C4|shared@x.com|bronze|0|∅|true|∅|∅|∅",
		"C5|shared@x.com|bronze|5|∅|true|∅|∅|∅",
	})
}

func TestUpdateDataInsertUpsertDelete(t *testing.T) {
	h, p := udSetup(t)
	// insert: C1 exists; C6 and C7 are new; the tier comes from a parameter.
	in := h.rowsInput("in/ins", [4]string{"C6", "new@x.com", "", ""}, [4]string{"C1", "dup@x.com", "", ""}, [4]string{"C7", "", "", ""})
	res, err := h.run(h.env, p, request(p, "u_insert", "r-ins", false, map[string]any{"newTier": "silver"}, in))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "insert rejects", h.rows(*res.Ports["rejects"]), []string{"C1|dup@x.com|∅|∅|the key is already in table customers"})
	if res.Counts["out"] != 2 {
		t.Errorf("insert out %d", res.Counts["out"])
	}
	// A parameter outside the column's enum fails the task before any write.
	_, err = h.run(h.env, p, request(p, "u_insert", "r-ins-bad", false, map[string]any{"newTier": "platinum"}, in))
	if err == nil || err.Error() != `update-data: set.tier: "platinum" is not one of bronze, silver, gold` {
		t.Errorf("enum: %v", err)
	}
	// upsert: C2 (points null + 2 = 2), C8 new, C9 with a bad number.
	in = h.rowsInput("in/ups", [4]string{"C2", "", "", "3.25"}, [4]string{"C8", "", "", "1"}, [4]string{"C9", "", "", "x"})
	res, err = h.run(h.env, p, request(p, "u_upsert", "r-ups", false, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "upsert rejects", h.rows(*res.Ports["rejects"]), []string{`C9|∅|∅|x|set score: the value of input column score is not a valid number`})
	// delete: C3 goes, C404 is not there.
	in = h.rowsInput("in/del", [4]string{"C3", "", "", ""}, [4]string{"C404", "", "", ""})
	res, err = h.run(h.env, p, request(p, "u_delete", "r-del", false, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "delete out", h.rows(*res.Ports["out"]), []string{"C3|∅|∅|∅"})
	equal(t, "delete rejects", h.rows(*res.Ports["rejects"]), []string{"C404|∅|∅|∅|the key is not in table customers"})
	// update by a non-unique column: the shared email matches two rows.
	in = h.rowsInput("in/email", [4]string{"", "shared@x.com", "", ""}, [4]string{"", "a@x.com", "", ""}, [4]string{"", "zzz@x.com", "", ""})
	res, err = h.run(h.env, p, request(p, "u_email", "r-email", false, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "email rejects", h.rows(*res.Ports["rejects"]), []string{
		"∅|shared@x.com|∅|∅|the key matches 2 rows of table customers",
		"∅|zzz@x.com|∅|∅|the key is not in table customers",
	})
	if v := h.version("customers"); v.Version != 4 {
		t.Errorf("version %d, want 4", v.Version)
	}
	equal(t, "table", h.tableRows("customers", allCols), []string{
		"C1|a@x.com|bronze|10|1.5|false|∅|∅|∅",
		"C2|b@x.com|silver|2|3.25|false|∅|∅|∅",
		"C4|shared@x.com|bronze|0|∅|true|∅|∅|∅",
		"C5|shared@x.com|bronze|5|∅|true|∅|∅|∅",
		"C6|new@x.com|silver|1|∅|∅|∅|∅|from-variable",
		"C7|∅|silver|1|∅|∅|∅|∅|from-variable",
		"C8|∅|∅|2|1|∅|∅|∅|∅",
	})
	// Every version is kept, immutable: version 1 still has C1..C7 and C3.
	hist, err := h.tables().TableHistory(context.Background(), "customers")
	if err != nil || len(hist) != 4 {
		t.Fatalf("history %v %v", hist, err)
	}
	equal(t, "version 1", h.query(hist[3].Ref, "SELECT customerId FROM v ORDER BY 1"), []string{"C1", "C2", "C3", "C4", "C5", "C6", "C7"})
}

func TestUpdateDataTestModeAndEmpty(t *testing.T) {
	h, p := udSetup(t)
	in := h.rowsInput("in/t", [4]string{"C1", "", "gold", ""}, [4]string{"C9", "", "gold", ""})
	res, err := h.run(h.env, p, request(p, "u_update", "r-test", true, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if res.Counts["out"] != 1 || res.Counts["rejects"] != 1 {
		t.Errorf("test counts %v", res.Counts)
	}
	if v := h.version("customers"); v.Version != 0 {
		t.Errorf("test mode committed version %d", v.Version)
	}
	if keys, _ := blob.Keys(context.Background(), h.blob, "warehouse/"); len(keys) != 0 {
		t.Errorf("test mode wrote %v", keys)
	}
	// An empty input, or one where nothing applies, commits nothing.
	for i, in := range []activity.Input{h.rowsInput("in/empty"), h.rowsInput("in/none", [4]string{"C404", "", "", ""})} {
		res, err = h.run(h.env, p, request(p, "u_update", fmt.Sprintf("r-empty%d", i), false, nil, in))
		if err != nil {
			t.Fatal(err)
		}
		if res.Ports["out"] == nil || res.Counts["out"] != 0 || res.Counts["rejects"] != int64(i) {
			t.Errorf("empty %d: %+v", i, res)
		}
	}
	if v := h.version("customers"); v.Version != 0 {
		t.Errorf("an empty update committed version %d", v.Version)
	}
}

// Eight writers (eight engines, like eight Lambdas) increment one counter
// and insert distinct keys at the same time: every update lands.
func TestUpdateDataConcurrentWriters(t *testing.T) {
	h, p := udSetup(t)
	const writers = 8
	inputs := make([]activity.Input, writers)
	for i := range inputs {
		inputs[i] = h.rowsInput(fmt.Sprintf("in/c%d", i), [4]string{"C1", "", "", ""}, [4]string{fmt.Sprintf("N%d", i), "", "", ""})
	}
	// Count the lost commit races: the test must exercise them.
	counting := &faultBlob{Store: h.blob}
	envs := make([]*tenv, writers)
	for i := range envs {
		envs[i] = h.newEnv(counting)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	conflicts := make([]int, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, err := h.run(envs[i], p, request(p, "u_count", fmt.Sprintf("r-c%d", i), false, nil, inputs[i]))
				var c *activity.Conflict
				if errors.As(err, &c) { // Step Functions retries Conflict
					conflicts[i]++
					continue
				}
				errs[i] = err
				return
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	// C1 had 10 points; each writer adds 1; each N key is inserted with 1.
	equal(t, "counter", h.tableRows("customers", "SELECT customerId, points FROM v WHERE customerId = 'C1' OR customerId LIKE 'N%'"), []string{
		"C1|18", "N0|1", "N1|1", "N2|1", "N3|1", "N4|1", "N5|1", "N6|1", "N7|1"})
	if v := h.version("customers"); v.Version != writers {
		t.Errorf("version %d, want %d", v.Version, writers)
	}
	n := counting.lostCommits.Load()
	if n == 0 {
		t.Error("no commit race happened: the test proves nothing")
	}
	t.Logf("lost commit races: %d; conflicts surfaced to the retry loop: %v", n, conflicts)
}

// faultBlob fails writes of keys for which fail returns an error (before
// writing) or failAfter does (after writing: the answer is lost), and counts
// commits that lost a race.
type faultBlob struct {
	blob.Store
	mu          sync.Mutex
	fail        func(key string) error
	failAfter   func(key string) error
	lostCommits atomic.Int64
}

func (f *faultBlob) check(key string, check func(string) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if check != nil {
		return check(key)
	}
	return nil
}

func (f *faultBlob) Put(ctx context.Context, key string, r io.Reader) error {
	if err := f.check(key, f.fail); err != nil {
		return err
	}
	if err := f.Store.Put(ctx, key, r); err != nil {
		return err
	}
	return f.check(key, f.failAfter)
}

func (f *faultBlob) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if err := f.check(key, f.fail); err != nil {
		return err
	}
	err := f.Store.PutIfAbsent(ctx, key, r)
	if errors.Is(err, blob.ErrExists) && isCommit(key) {
		f.lostCommits.Add(1)
	}
	if err != nil {
		return err
	}
	return f.check(key, f.failAfter)
}

func (f *faultBlob) FilePath(key string) (string, error) {
	return f.Store.(blob.FileStore).FilePath(key)
}

// isCommit tells a table version's commit marker.
func isCommit(key string) bool {
	return strings.HasPrefix(key, "warehouse/") && strings.Contains(key, "/commits/")
}

// errCrash is a store failure that may pass (a 5xx, a dropped connection),
// marked as the adapters mark theirs.
var errCrash = failure.Transient(errors.New("injected crash"))

func TestUpdateDataCrashes(t *testing.T) {
	h, p := udSetup(t)
	// Version 1: C1 at 11 points.
	if _, err := h.run(h.env, p, request(p, "u_count", "r-base", false, nil, h.rowsInput("in/base", [4]string{"C1", "", "", ""}))); err != nil {
		t.Fatal(err)
	}
	before := h.tableRows("customers", allCols)
	v1 := h.version("customers")
	in := h.rowsInput("in/crash", [4]string{"C1", "", "", ""})
	cases := []struct {
		name         string
		blobs, after func(key string) error
		// committed: the crash happens after the commit; written: after
		// the version's data was written in full.
		committed, written bool
	}{
		{name: "part file", blobs: func(k string) error {
			if strings.HasPrefix(k, "warehouse/") && strings.HasSuffix(k, ".parquet") {
				return errCrash
			}
			return nil
		}},
		{name: "version manifest", blobs: func(k string) error {
			if strings.HasPrefix(k, "warehouse/") && strings.HasSuffix(k, "manifest.json") {
				return errCrash
			}
			return nil
		}},
		{name: "commit lost", written: true, blobs: func(k string) error {
			if isCommit(k) {
				return errCrash
			}
			return nil
		}},
		{name: "commit done, answer lost", committed: true, after: func(k string) error {
			if isCommit(k) {
				return errCrash
			}
			return nil
		}},
		{name: "out port after commit", committed: true, blobs: func(k string) error {
			if strings.HasPrefix(k, "runs/") && strings.HasSuffix(k, "/out/manifest.json") {
				return errCrash
			}
			return nil
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fb := &faultBlob{Store: h.blob, fail: c.blobs, failAfter: c.after}
			runID := fmt.Sprintf("r-crash%d", i)
			_, err := h.run(h.newEnv(fb), p, request(p, "u_count", runID, false, nil, in))
			if !errors.Is(err, errCrash) && (err == nil || !strings.Contains(err.Error(), errCrash.Error())) {
				t.Fatalf("expected the injected crash, got %v", err)
			}
			// Named at the function boundary.
			if n := failure.Name(failure.Classify(err)); n != "Retryable" {
				t.Errorf("a crash should be retryable, got %s: %v", n, err)
			}
			cur := h.version("customers")
			next := data.VersionRef("customers", v1.Version+1, runID, "u_count")
			if _, err := h.blob.Stat(context.Background(), next+"/manifest.json"); c.written && err != nil {
				t.Errorf("the uncommitted version's data is not there: %v", err)
			}
			if !c.committed {
				// The previous version is current, readable and intact.
				if cur != v1 {
					t.Errorf("version moved: %+v -> %+v", v1, cur)
				}
				equal(t, "previous version", h.tableRows("customers", allCols), before)
			}
			// The retried task (a fresh Lambda) applies the update exactly once.
			res, err := h.run(h.newEnv(nil), p, request(p, "u_count", runID, false, nil, in))
			if err != nil {
				t.Fatal(err)
			}
			if res.Counts["out"] != 1 {
				t.Errorf("retry out %v", res.Counts)
			}
			if v := h.version("customers"); v.Version != v1.Version+1 {
				t.Errorf("version %d, want %d", v.Version, v1.Version+1)
			}
			// C1 had 11 points; each case adds exactly one.
			equal(t, "C1", h.tableRows("customers", "SELECT points FROM v WHERE customerId = 'C1'"), []string{fmt.Sprint(12 + i)})
			v1 = h.version("customers")
			before = h.tableRows("customers", allCols)
		})
	}
}

// A task retried after it committed (same run, same activity) does not
// apply again and returns the same ports.
func TestUpdateDataRetryAfterCommit(t *testing.T) {
	h, p := udSetup(t)
	in := h.rowsInput("in/r", [4]string{"C1", "", "", ""}, [4]string{"C404", "", "", ""})
	first, err := h.run(h.env, p, request(p, "u_update", "r-retry", false, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	// Another writer commits in between.
	if _, err := h.run(h.env, p, request(p, "u_count", "r-other", false, nil, h.rowsInput("in/o", [4]string{"C3", "", "", ""}))); err != nil {
		t.Fatal(err)
	}
	again, err := h.run(h.newEnv(nil), p, request(p, "u_update", "r-retry", false, nil, in))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(first.Counts) != fmt.Sprint(again.Counts) || *first.Ports["out"] != *again.Ports["out"] {
		t.Errorf("retry differs: %+v vs %+v", first, again)
	}
	if v := h.version("customers"); v.Version != 2 {
		t.Errorf("version %d, want 2", v.Version)
	}
	equal(t, "points", h.tableRows("customers", "SELECT customerId, points FROM v WHERE customerId IN ('C1', 'C3')"), []string{"C1|15", "C3|31"})
}

// Configurations that cannot work are validation errors before any run.
func TestDataChecks(t *testing.T) {
	for _, c := range []struct{ activity, want string }{
		{"{ id: u, type: update-data, from: f, table: customers, operation: insert, key: { email: email } }",
			"activities[1].key: insert needs the key of customers: map customerId"},
		{"{ id: u, type: update-data, from: f, table: customers, operation: update, key: { email: email }, set: { customerId: { field: id } } }",
			`activities[1].set.customerId: set cannot change the key column "customerId"`},
		{"{ id: u, type: update-data, from: f, table: customers, operation: update, key: { customerId: id }, set: { points: { increment: 0.5 } } }",
			`activities[1].set.points: increment of the integer column "points" must be a whole number`},
		{"{ id: u, type: update-data, from: f, table: customers, operation: update, key: { customerId: id }, set: { tier: platinum } }",
			`activities[1].set.tier: "platinum" is not one of bronze, silver, gold`},
		{"{ id: u, type: load-file, file: x.csv, columns: [{ name: d, type: date, format: \"2006-01-02 MST\" }] }",
			`activities[1].columns[0].format: format "2006-01-02 MST": "MST" is not supported`},
		{"{ id: u, type: load-file, file: x.csv, columns: [{ name: d, format: \"2006\" }] }",
			"activities[1].columns[0].format: format applies to date and timestamp columns only"},
	} {
		camp := strings.Replace(udCampaign, "  - id: u_update\n", "  - "+c.activity+"\n  - id: u_update\n", 1)
		dir := t.TempDir()
		for name, content := range map[string]string{"campaign.yaml": camp, "catalog.yaml": udCatalog, "customers.csv": udCustomers, "x.csv": "d\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, diags := compile.CompileFiles(context.Background(), filepath.Join(dir, "campaign.yaml"), "", registry(&data.Deps{}), compile.Checkers{}, nil)
		if !strings.Contains(diags.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant %s", c.activity, diags, c.want)
		}
	}
}

// A narrow input (a reconciliation's rows over the customers: the key and
// its own columns in its files) whose update key and set fields are its own
// columns is read without the join to its base: the same rows on out and
// rejects, the same table version, and out written narrow.
func TestUpdateDataPassThroughAgree(t *testing.T) {
	// id is the update key. Rows: C1's tier is not one of the table's; C2
	// applies with a null tier, C3 with gold; C4 repeats; C9 is not in the
	// table; a null id.
	const some = "('C1', 'C1', 'platinum', '1'), ('C2', 'C2', NULL, NULL), ('C3', 'C3', 'gold', '2.5'), ('C4', 'C4', 'silver', NULL), " +
		"('C5', 'C4', 'gold', NULL), ('C5', 'C9', 'gold', NULL), ('C1', NULL, 'gold', '3')"
	const none = "('C2', 'C2', 'silver', NULL), ('C3', 'C3', 'gold', '2.5')"
	type got struct {
		out, rejects, table []string
		outM, rejM          *dataset.Manifest
		files               []string
	}
	run := func(rows string, thru, test bool) got {
		*data.UpdatePassThrough = thru
		defer func() { *data.UpdatePassThrough = true }()
		h, p := udSetup(t)
		ctx := context.Background()
		eng := h.engine()
		base := "runs/r/-tables/customers"
		if _, err := eng.Write(ctx, dataset.Output{Ref: dataset.Ref(base), Dimension: "customers", Key: []string{"customerId"}},
			"SELECT * FROM (VALUES ('C1', 'a@x.com'), ('C2', 'b@x.com'), ('C3', 'c@x.com'), ('C4', 's@x.com'), ('C5', 's@x.com')) AS t(customerId, email)"); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.StageDataset(ctx, "b", dataset.Ref(base)); err != nil {
			t.Fatal(err)
		}
		ref := "runs/r/known/out"
		m, err := eng.Write(ctx, dataset.Output{Ref: dataset.Ref(ref), Dimension: "customers", Key: []string{"customerId"},
			Base: &dataset.Base{Ref: dataset.Ref(base), Columns: []string{"email"}}},
			"SELECT b.customerId, b.email, i.id, i.tier, i.score FROM (VALUES "+rows+") AS i(customerId, id, tier, score) "+
				"JOIN b ON b.customerId = i.customerId ORDER BY ALL")
		if err != nil {
			t.Fatal(err)
		}
		if m.Base == nil {
			t.Fatal("the input is not narrow")
		}
		in := activity.Input{From: "f", Port: "out", Ref: &ref, Count: m.Rows}
		res, err := h.run(h.env, p, request(p, "u_update", "r", test, nil, in))
		if err != nil {
			t.Fatal(err)
		}
		g := got{out: h.rows(*res.Ports["out"]), rejects: h.rows(*res.Ports["rejects"])}
		for port, dst := range map[string]**dataset.Manifest{"out": &g.outM, "rejects": &g.rejM} {
			if *dst, err = dataset.ReadManifest(ctx, h.blob, dataset.Ref(*res.Ports[port])); err != nil {
				t.Fatal(err)
			}
		}
		if !test {
			v := h.version("customers")
			g.table = h.tableRows("customers", allCols)
			vm, err := dataset.ReadManifest(ctx, h.blob, dataset.Ref(v.Ref))
			if err != nil {
				t.Fatal(err)
			}
			g.files = vm.Files
		}
		return g
	}
	for _, c := range []struct {
		name string
		rows string
		test bool
	}{{"test mode", some, true}, {"commit", some, false}, {"none rejected", none, true}} {
		thru, joined := run(c.rows, true, c.test), run(c.rows, false, c.test)
		if len(joined.out) == 0 {
			t.Fatalf("%s: nothing applied", c.name)
		}
		equal(t, c.name+": out", thru.out, joined.out)
		equal(t, c.name+": rejects", thru.rejects, joined.rejects)
		equal(t, c.name+": rejects files", thru.rejM.Files, joined.rejM.Files)
		equal(t, c.name+": table", thru.table, joined.table)
		equal(t, c.name+": version files", thru.files, joined.files)
		equal(t, c.name+": out columns", thru.outM.ColumnNames(), joined.outM.ColumnNames())
		if thru.outM.Base == nil || joined.outM.Base != nil {
			t.Errorf("%s: out narrow %v with pass-through, %v without", c.name, thru.outM.Base != nil, joined.outM.Base != nil)
		}
		if c.rows == some && len(thru.rejects) != 5 {
			t.Errorf("%s: rejects %q", c.name, thru.rejects)
		}
	}
}
