package athenalocal_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/state"
)

// updateCampaigns are run one after the other on one home: each commits a
// version of customers (or purchases) the next reads.
var updateCampaigns = []struct{ name, file, cols, yaml string }{
	{"update", "update.csv", "{ name: id, type: string }, { name: newTier, type: string }, { name: x, type: integer }", `
  - id: upd
    type: update-data
    from: rows
    table: customers
    operation: update
    key: { customerId: id }
    set:
      tier: { field: newTier }
      emailOptIn: true
      signupAt: { now: true }
`},
	{"insert", "insert.csv", "{ name: id, type: string }, { name: name, type: string }, { name: born, type: date, onError: \"null\" }", `
  - id: ins
    type: update-data
    from: rows
    table: customers
    operation: insert
    key: { customerId: id }
    set:
      firstName: { field: name }
      tier: gold
      birthDate: { field: born }
`},
	{"upsert", "upsert.csv", "{ name: id, type: string }, { name: mail, type: string }", `
  - id: ups
    type: update-data
    from: rows
    table: customers
    operation: upsert
    key: { customerId: id }
    set:
      tier: silver
      email: { field: mail }
`},
	{"delete", "delete.csv", "{ name: id, type: string }", `
  - id: del
    type: update-data
    from: rows
    table: customers
    operation: delete
    key: { customerId: id }
`},
	{"increment", "", "", `
  - id: big
    type: build-audience
    dimension: purchases
    where: { field: amount, op: gte, value: 150 }
  - id: inc
    type: update-data
    from: big
    table: purchases
    operation: update
    key: { purchaseId: purchaseId }
    set:
      amount: { increment: 1.5 }
`},
	{"nothing", "nothing.csv", "{ name: id, type: string }", `
  - id: none
    type: update-data
    from: rows
    table: customers
    operation: delete
    key: { customerId: id }
`},
}

var updateFiles = map[string]string{
	// known ids; an unknown one; a repeated one (both rows rejected); a
	// tier outside the enum; an empty id.
	"update.csv": "id,newTier,x\nC0000001,gold,1\nC0000002,silver,2\nC0000003,bronze,3\nC9999999,gold,4\nC0000004,gold,5\nC0000004,silver,6\nC0000005,platinum,7\n,gold,8\n",
	// new ids; a known one; a repeated new one.
	"insert.csv": "id,name,born\nN0000001,Ann,1990-02-03\nN0000002,Bob,\nC0000010,Known,1980-01-01\nN0000003,Dup,2000-01-01\nN0000003,Dup,2000-01-01\n",
	// a known id, one inserted by the run before, a new one.
	"upsert.csv": "id,mail\nC0000011,o'brien@example.com\nN0000001,ann@example.com\nN0000009,new@example.com\n",
	// a known id, an inserted one, an unknown one.
	"delete.csv":  "id\nC0000012\nN0000002\nC9999998\n",
	"nothing.csv": "id\nC9999997\n",
}

// TestUpdateDataAthenaMatchDuckDB runs insert, update, upsert, delete and an
// increment (each a run committing a version the next reads), with rejects
// of every kind and a run where nothing applies, on both engines: every
// port's count, and the tables' rows after, are the same. The Athena run
// MERGEs into the tables' Iceberg copies (the stand-in's) and commits the
// versions UNLOADed from them.
func TestUpdateDataAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(2000))
	for name, body := range updateFiles {
		if err := os.WriteFile(filepath.Join(dir, "files", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var duck, ath []map[string]map[string]int64
	merged := merges()
	for _, c := range updateCampaigns {
		src := "version: 1\nid: upd-" + c.name + "\ndimension: customers\ntimezone: Europe/Paris\nactivities:\n"
		if c.file != "" {
			src += "  - { id: rows, type: load-file, file: files/" + c.file + ", format: csv, csv: { header: true }, columns: [" + c.cols + "] }\n"
		}
		src += c.yaml
		f := "upd-" + c.name + ".yaml"
		if err := os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if c.name == "update" {
			// Test mode first: the same ports, and nothing committed.
			dt, at := run(t, dir, f, "catalog.yaml", "home-duckdb"), run(t, dir, f, "catalog-athena.yaml", "home-athena")
			if !reflect.DeepEqual(ports(dt), ports(at)) {
				t.Errorf("test mode: duckdb %v, athena %v", ports(dt), ports(at))
			}
			store, _ := folderblob.New(filepath.Join(dir, "home-athena", "blob"))
			if _, err := tablelog.New(store, nil).CurrentTable(context.Background(), "customers"); !errors.Is(err, state.ErrNotFound) {
				t.Errorf("test mode committed a version of customers (%v)", err)
			}
		}
		d := runLive(t, dir, f, "catalog.yaml", "home-duckdb")
		a := runLive(t, dir, f, "catalog-athena.yaml", "home-athena")
		duck, ath = append(duck, ports(d)), append(ath, ports(a))
	}
	if !reflect.DeepEqual(duck, ath) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", duck, ath)
	}
	want := []map[string]int64{{"out": 3, "rejects": 5}, {"out": 2, "rejects": 3}, {"out": 3, "rejects": 0}, {"out": 2, "rejects": 1}}
	for i, id := range []string{"upd", "ins", "ups", "del"} {
		if got := ath[i][id]; !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s: %v, want %v", id, got, want[i])
		}
	}
	if ath[4]["inc"]["out"] == 0 {
		t.Errorf("increment: no purchase of 150 or more: a weak case")
	}
	for _, table := range []string{"customers", "purchases"} {
		dv, drows := tableRows(t, filepath.Join(dir, "home-duckdb"), table)
		av, arows := tableRows(t, filepath.Join(dir, "home-athena"), table)
		if dv != av || drows != arows {
			t.Errorf("%s: duckdb version %d (%s), athena version %d (%s)", table, dv, drows, av, arows)
		}
	}
	if n := merges() - merged; n != len(updateCampaigns) {
		t.Errorf("%d MERGE statements ran on Athena, want %d", n, len(updateCampaigns))
	}
	if v, _ := tableRows(t, filepath.Join(dir, "home-athena"), "customers"); v != 4 {
		t.Errorf("customers is at version %d, want 4 (the run where nothing applies commits none)", v)
	}
}

// runLive runs a campaign for real (not in test mode).

// tableRows returns a managed table's current version and a digest of its
// rows (each as text, sorted) with their count.
func tableRows(t *testing.T, home, table string) (int64, string) {
	t.Helper()
	store, err := folderblob.New(filepath.Join(home, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	v, err := tablelog.New(store, nil).CurrentTable(ctx, table)
	if err != nil {
		t.Fatalf("%s: %v", table, err)
	}
	eng, err := dataset.New(dataset.Options{Store: store, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.StageDataset(ctx, "v", dataset.Ref(v.Ref)); err != nil {
		t.Fatal(err)
	}
	row, err := eng.QueryRow(ctx, "SELECT count(*), string_agg(CAST(v AS VARCHAR), chr(10) ORDER BY CAST(v AS VARCHAR)) FROM v")
	if err != nil {
		t.Fatal(err)
	}
	s, _ := row[1].(string)
	sum := sha256.Sum256([]byte(s))
	n, _ := row[0].(int64)
	return v.Version, hex.EncodeToString(sum[:8]) + " rows " + strconv.FormatInt(n, 10)
}

// merges counts the MERGE statements the stand-in ran.
func merges() int {
	ranMu.Lock()
	defer ranMu.Unlock()
	n := 0
	for _, q := range ran {
		if strings.HasPrefix(q, "MERGE INTO ") {
			n++
		}
	}
	return n
}

// An update whose statements stop after its MERGE (the UNLOAD of the new
// version fails) commits no version; the next run finds the Iceberg copy
// marked as changed by an update that never committed, loads the current
// version into it again and applies its own update once: an increment
// shows a double application.
func TestUpdateDataAthenaFailureCommitsNothing(t *testing.T) {
	dir := workspace(t, customers(500))
	c := updateCampaigns[4]
	src := "version: 1\nid: upd-" + c.name + "\ndimension: customers\nactivities:\n" + c.yaml
	if err := os.WriteFile(filepath.Join(dir, "inc.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := builtin.CompileFiles(filepath.Join(dir, "inc.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, "home-athena"))
	if err != nil {
		t.Fatal(err)
	}
	l.Env.Clock = func() time.Time { return now }
	merged := false
	l.Athena().Fail = func(q string) error {
		merged = merged || strings.HasPrefix(q, "MERGE INTO ")
		if strings.HasPrefix(q, "UNLOAD ") && strings.Contains(q, "/warehouse/purchases/") {
			return errors.New("HIVE_CURSOR_ERROR: the new version's UNLOAD fails")
		}
		return nil
	}
	defer l.Close()
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip})
	if err == nil && sum.Status == "succeeded" {
		t.Fatal("the run succeeded")
	}
	if !merged {
		t.Fatal("no MERGE ran before the failure")
	}
	store, _ := folderblob.New(filepath.Join(dir, "home-athena", "blob"))
	if v, err := tablelog.New(store, nil).CurrentTable(context.Background(), "purchases"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("purchases after the failed run: version %d (%v), want none", v.Version, err)
	}
	// The same host (its Iceberg copy as the failed run left it).
	l.Athena().Fail = nil
	if sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip}); err != nil || sum.Status != "succeeded" {
		t.Fatalf("the next run: %v %v", err, sum)
	}
	runLive(t, dir, "inc.yaml", "catalog.yaml", "home-duckdb")
	dv, drows := tableRows(t, filepath.Join(dir, "home-duckdb"), "purchases")
	av, arows := tableRows(t, filepath.Join(dir, "home-athena"), "purchases")
	if dv != 1 || av != 1 || drows != arows {
		t.Errorf("duckdb version %d (%s), athena version %d (%s)", dv, drows, av, arows)
	}
}

// Another writer's rows in the Iceberg copy between this update's MERGE and
// its UNLOAD (an interleaved update) make finish refuse the commit: the
// merged table is not this update's alone. The next run reloads the copy.
func TestUpdateDataAthenaInterleavedCommitsNothing(t *testing.T) {
	dir := workspace(t, customers(300))
	if err := os.WriteFile(filepath.Join(dir, "files", "insert.csv"), []byte(updateFiles["insert.csv"]), 0o644); err != nil {
		t.Fatal(err)
	}
	c := updateCampaigns[1]
	src := "version: 1\nid: upd-insert\ndimension: customers\nactivities:\n" +
		"  - { id: rows, type: load-file, file: files/insert.csv, format: csv, csv: { header: true }, columns: [" + c.cols + "] }\n" + c.yaml
	if err := os.WriteFile(filepath.Join(dir, "ins.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := builtin.CompileFiles(filepath.Join(dir, "ins.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, "home-athena"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Env.Clock = func() time.Time { return now }
	ath := l.Athena()
	ath.Fail = func(q string) error {
		if !strings.HasPrefix(q, "UNLOAD ") || !strings.Contains(q, "/warehouse/customers/") {
			return nil
		}
		// Another update's row lands in the copy first.
		in := `{"QueryString": "INSERT INTO \"stepwise\".\"sw_managed_customers\" (\"customerId\") VALUES ('X0000001')", "WorkGroup": "primary",
			"QueryExecutionContext": {"Database": "stepwise"}, "ResultConfiguration": {"OutputLocation": "s3://stepwise-local/results/"}}`
		if _, err := ath.QuerySync(context.Background(), []byte(in)); err != nil {
			t.Errorf("the other writer: %v", err)
		}
		return nil
	}
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip})
	if err == nil && sum.Status == "succeeded" {
		t.Fatal("the run committed a table holding another writer's row")
	}
	if sum != nil && !strings.Contains(sum.Reason, "another update ran on its Iceberg table") {
		t.Errorf("reason: %s", sum.Reason)
	}
	store, _ := folderblob.New(filepath.Join(dir, "home-athena", "blob"))
	if v, err := tablelog.New(store, nil).CurrentTable(context.Background(), "customers"); !errors.Is(err, state.ErrNotFound) {
		t.Fatalf("customers after the refused commit: version %d (%v), want none", v.Version, err)
	}
	ath.Fail = nil
	if sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip}); err != nil || sum.Status != "succeeded" {
		t.Fatalf("the next run: %v %v", err, sum)
	}
	runLive(t, dir, "ins.yaml", "catalog.yaml", "home-duckdb")
	_, drows := tableRows(t, filepath.Join(dir, "home-duckdb"), "customers")
	_, arows := tableRows(t, filepath.Join(dir, "home-athena"), "customers")
	if drows != arows {
		t.Errorf("duckdb %s, athena %s", drows, arows)
	}
}

// update-data on Athena with a warehouse folder (which Athena cannot read)
// fails at plan, saying why and naming the table.
func TestUpdateDataAthenaRefusesWarehouseFolder(t *testing.T) {
	dir := workspace(t, 50)
	if err := os.WriteFile(filepath.Join(dir, "files", "delete.csv"), []byte(updateFiles["delete.csv"]), 0o644); err != nil {
		t.Fatal(err)
	}
	cat, _ := os.ReadFile(filepath.Join(dir, "catalog-athena.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "catalog-wh.yaml"), append([]byte("warehouse: wh\n"), cat...), 0o644); err != nil {
		t.Fatal(err)
	}
	c := updateCampaigns[3]
	src := "version: 1\nid: upd-delete\ndimension: customers\nactivities:\n" +
		"  - { id: rows, type: load-file, file: files/delete.csv, format: csv, csv: { header: true }, columns: [" + c.cols + "] }\n" + c.yaml
	if err := os.WriteFile(filepath.Join(dir, "del.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := builtin.CompileFiles(filepath.Join(dir, "del.yaml"), filepath.Join(dir, "catalog-wh.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip})
	if err == nil && sum.Status == "succeeded" {
		t.Fatal("the run succeeded")
	}
	if sum == nil || !strings.Contains(sum.Reason, "table customers: not yet on athena: the catalog's warehouse must be the run store") {
		t.Errorf("run: %v %+v", err, sum)
	}
}
