package datatask_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

const memoryLimit = 256 << 20

func store(t *testing.T, dir string) *folderblob.Store {
	t.Helper()
	s, err := folderblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// call is an invocation of activity a1 of run r1 against a catalog written
// in dir.
func call(t *testing.T, dir, catalog string) *activity.Call {
	t.Helper()
	cat, diags := campaign.ParseCatalog(filepath.Join(dir, "catalog.yaml"), []byte(catalog))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	env := &activity.Env{WorkDir: filepath.Join(dir, "work")}
	t.Cleanup(func() { env.Close() })
	return &activity.Call{Env: env, Plan: &activity.Compiled{Campaign: &campaign.Campaign{ID: "c"}, Catalog: cat},
		Req: &activity.Request{Campaign: "c", Activity: "a1", Run: activity.RunInfo{ID: "r1", Now: "2026-03-15T12:00:00Z"}}}
}

func open(t *testing.T, d *datatask.Deps, c *activity.Call) *datatask.Task {
	t.Helper()
	task, err := datatask.Open(context.Background(), d, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(task.Close)
	return task
}

const customers = `version: 1
tables:
  - name: customers
    key: [id]
    columns: [{ name: id, type: string }, { name: email, type: string }]
`

func TestOpenWithoutRunStore(t *testing.T) {
	_, err := datatask.Open(context.Background(), &datatask.Deps{}, call(t, t.TempDir(), customers))
	var invalid *activity.InvalidInput
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "no run store") {
		t.Fatalf("%T %v, want InvalidInput", err, err)
	}
}

// Managed table versions live in the catalog's warehouse folder, else in
// Deps.Warehouse, else in the run store; an s3:// warehouse needs
// Deps.Warehouse.
func TestWarehouse(t *testing.T) {
	dir := t.TempDir()
	run, wh := store(t, filepath.Join(dir, "run")), store(t, filepath.Join(dir, "wh"))
	withWarehouse := func(w string) string {
		return strings.Replace(customers, "version: 1\n", "version: 1\nwarehouse: "+w+"\n", 1)
	}
	root := func(s blob.Store) string {
		if f, ok := s.(*folderblob.Store); ok {
			return f.Root()
		}
		return ""
	}
	for _, c := range []struct {
		name      string
		catalog   string
		warehouse blob.Store
		want      string // the warehouse's root folder
	}{
		{"run store", customers, nil, root(run)},
		{"deps", customers, wh, root(wh)},
		{"folder", withWarehouse("tables"), nil, filepath.Join(dir, "tables")},
		{"folder over deps", withWarehouse("tables"), wh, filepath.Join(dir, "tables")},
		{"absolute folder", withWarehouse(filepath.Join(dir, "abs")), nil, filepath.Join(dir, "abs")},
		{"s3 with deps", withWarehouse("s3://bucket/warehouse"), wh, root(wh)},
	} {
		t.Run(c.name, func(t *testing.T) {
			task := open(t, &datatask.Deps{Blob: run, Warehouse: c.warehouse, MemoryLimit: memoryLimit}, call(t, dir, c.catalog))
			if got := root(task.Warehouse().Store()); got != c.want {
				t.Fatalf("warehouse %s, want %s", got, c.want)
			}
			if (task.Warehouse() == task.Engine) != (c.want == root(run)) {
				t.Fatal("the run store's warehouse is not the task's engine")
			}
			if task.Engine.Store() != blob.Store(run) {
				t.Fatal("the task's engine is not on the run store")
			}
		})
	}
	_, err := datatask.Open(context.Background(), &datatask.Deps{Blob: run, MemoryLimit: memoryLimit}, call(t, dir, withWarehouse("s3://bucket/warehouse")))
	var invalid *activity.InvalidInput
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "s3://bucket/warehouse") {
		t.Fatalf("s3 without deps: %T %v, want InvalidInput", err, err)
	}
}

// A table read from its source is snapshotted once per run: the view reads
// the snapshot, which is the table's base.
func TestTableFromSource(t *testing.T) {
	dir := t.TempDir()
	run := store(t, filepath.Join(dir, "run"))
	eng, err := dataset.New(dataset.Options{Store: run, WorkDir: filepath.Join(dir, "fixtures"), Threads: 1, MemoryLimit: memoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	ctx := context.Background()
	src := filepath.Join(dir, "data", "customers.parquet")
	os.MkdirAll(filepath.Dir(src), 0o755)
	if err := eng.Exec(ctx, "COPY (SELECT * FROM (VALUES ('C1', 'a@x'), ('C2', 'b@x'), ('C3', NULL)) v(id, email)) TO "+dataset.QuoteLiteral(src)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	cat := strings.Replace(customers, "key: [id]\n", "key: [id]\n    source: data/customers.parquet\n", 1)
	task := open(t, &datatask.Deps{Blob: run, Engine: eng}, call(t, dir, cat))
	if b, err := task.Base("customers"); b != nil || err != nil {
		t.Fatalf("base before staging: %v %v", b, err)
	}
	view, err := task.Table("customers")
	if err != nil {
		t.Fatal(err)
	}
	row, err := eng.QueryRow(ctx, "SELECT count(*), count(email) FROM "+datatask.Q(view))
	if err != nil || row[0] != int64(3) || row[1] != int64(2) {
		t.Fatalf("view rows %v %v", row, err)
	}
	snap := datatask.TableSnapshot("r1", "customers")
	if _, err := dataset.ReadManifest(ctx, run, snap); err != nil {
		t.Fatalf("no snapshot at %s: %v", snap, err)
	}
	if again, err := task.Table("customers"); again != view || err != nil {
		t.Fatalf("second Table: %s %v, want the view %s", again, err, view)
	}
	b, err := task.Base("customers")
	if err != nil || b == nil || b.Ref != snap || strings.Join(b.Columns, ",") != "email" {
		t.Fatalf("base %+v %v", b, err)
	}
	// The run keeps reading its snapshot when the source changes.
	if err := os.WriteFile(src, []byte("not parquet"), 0o644); err != nil {
		t.Fatal(err)
	}
	later := open(t, &datatask.Deps{Blob: run, Engine: eng}, call(t, dir, cat))
	view, err = later.Table("customers")
	if err != nil {
		t.Fatal(err)
	}
	if row, err := eng.QueryRow(ctx, "SELECT count(*) FROM "+datatask.Q(view)); err != nil || row[0] != int64(3) {
		t.Fatalf("snapshot rows %v %v", row, err)
	}
	var invalid *activity.InvalidInput
	if _, err := later.Table("nope"); !errors.As(err, &invalid) {
		t.Fatalf("unknown table: %T %v", err, err)
	}
}

// A table with neither a version nor a source is empty, with its declared columns.
func TestEmptyTable(t *testing.T) {
	dir := t.TempDir()
	task := open(t, &datatask.Deps{Blob: store(t, filepath.Join(dir, "run")), MemoryLimit: memoryLimit}, call(t, dir, customers))
	view, err := task.Table("customers")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := task.Engine.Columns(context.Background(), "SELECT * FROM "+datatask.Q(view))
	if err != nil || len(cols) != 2 || cols[0].Name != "id" || cols[1].Name != "email" {
		t.Fatalf("columns %+v %v", cols, err)
	}
	if row, err := task.Engine.QueryRow(context.Background(), "SELECT count(*) FROM "+datatask.Q(view)); err != nil || row[0] != int64(0) {
		t.Fatalf("rows %v %v", row, err)
	}
	if b, err := task.Base("customers"); b != nil || err != nil {
		t.Fatalf("an empty table has a base: %v %v", b, err)
	}
}

// Deps.Engine serves every Env; without it each Env makes its own, once,
// and closes it with the Env.
func TestEngineOf(t *testing.T) {
	dir := t.TempDir()
	run := store(t, filepath.Join(dir, "run"))
	shared, err := dataset.New(dataset.Options{Store: run, WorkDir: filepath.Join(dir, "shared"), Threads: 1, MemoryLimit: memoryLimit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shared.Close() })
	d := &datatask.Deps{Engine: shared}
	for _, e := range []*activity.Env{{}, {WorkDir: dir}} {
		if got, err := d.EngineOf(e); got != shared || err != nil {
			t.Fatalf("EngineOf: %p %v, want the shared engine", got, err)
		}
	}

	d = &datatask.Deps{Blob: run, MemoryLimit: memoryLimit}
	e1, e2 := &activity.Env{WorkDir: filepath.Join(dir, "e1")}, &activity.Env{WorkDir: filepath.Join(dir, "e2")}
	a, err := d.EngineOf(e1)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := d.EngineOf(e1); b != a {
		t.Fatal("an Env made two engines")
	}
	b, err := d.EngineOf(e2)
	if err != nil || b == a {
		t.Fatalf("two Envs share an engine: %v", err)
	}
	if err := e1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Exec(context.Background(), "SELECT 1"); err == nil {
		t.Fatal("the engine is open after its Env closed")
	}
	if err := b.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatalf("another Env's engine: %v", err)
	}
	e2.Close()
}
