package dataset_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// people is a keyed base of n rows.
func people(n int) string {
	return fmt.Sprintf(`SELECT 'c' || lpad(CAST(i AS VARCHAR), 5, '0') AS id, 'name ' || i AS name, i %% 7 AS score,
		DATE '2000-01-01' + CAST(i AS INTEGER) AS born FROM range(%d) AS r(i) ORDER BY id`, n)
}

// rows reads a whole dataset through Stream (dataset order).
func rows(t *testing.T, e *dataset.Engine, ref dataset.Ref, cols ...string) [][]any {
	t.Helper()
	var out [][]any
	_, err := e.Stream(ctx, ref, dataset.StreamOptions{Columns: cols, BatchSize: 7}, func(b *dataset.Batch) error {
		out = append(out, b.Rows...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNarrowReadsLikeWide(t *testing.T) {
	e := engine(t, folder(t))
	base := dataset.Ref("warehouse/people/v1")
	if _, err := e.Write(ctx, dataset.Output{Ref: base, Dimension: "people", Key: []string{"id"}, CreatedAt: created}, people(500)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.StageDataset(ctx, "people", base); err != nil {
		t.Fatal(err)
	}
	// Rows in a non-key order with an added column and a base column recomputed
	// under another type (kept in the files, not taken from the base).
	query := `SELECT id, name, CAST(score AS VARCHAR) AS score, born, score * 10 AS points FROM people
		WHERE score <> 3 ORDER BY points DESC, id DESC`
	wide, err := e.Write(ctx, dataset.Output{Ref: "runs/r/wide/out", Dimension: "people", Key: []string{"id"}, CreatedAt: created}, query)
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := e.Write(ctx, dataset.Output{Ref: "runs/r/narrow/out", Dimension: "people", Key: []string{"id"}, CreatedAt: created, Base: &dataset.Base{Ref: base, Columns: []string{"name", "score", "born"}}}, query)
	if err != nil {
		t.Fatal(err)
	}
	if narrow.Base == nil || !reflect.DeepEqual(narrow.Base.Columns, []string{"name", "born"}) {
		t.Fatalf("base = %+v, want name and born from the base", narrow.Base)
	}
	if !reflect.DeepEqual(narrow.Columns, wide.Columns) || narrow.Rows != wide.Rows {
		t.Fatalf("narrow schema %v (%d rows), wide %v (%d rows)", narrow.Columns, narrow.Rows, wide.Columns, wide.Rows)
	}
	// Stream keeps dataset order, whole or windowed, any columns.
	if got, want := rows(t, e, "runs/r/narrow/out"), rows(t, e, "runs/r/wide/out"); !reflect.DeepEqual(got, want) {
		t.Fatalf("narrow rows differ from wide:\n%v\n%v", got[:3], want[:3])
	}
	if got, want := rows(t, e, "runs/r/narrow/out", "points", "id"), rows(t, e, "runs/r/wide/out", "points", "id"); !reflect.DeepEqual(got, want) {
		t.Fatal("narrow key-only stream differs")
	}
	win := func(ref dataset.Ref) [][]any {
		var out [][]any
		e.Stream(ctx, ref, dataset.StreamOptions{Offset: 101, Limit: 37, Columns: []string{"born", "id"}}, func(b *dataset.Batch) error {
			out = append(out, b.Rows...)
			return nil
		})
		return out
	}
	if got, want := win("runs/r/narrow/out"), win("runs/r/wide/out"); len(got) != 37 || !reflect.DeepEqual(got, want) {
		t.Fatalf("window: %d rows, differ from wide: %v", len(got), !reflect.DeepEqual(got, want))
	}
	// A staged view has the same rows, in the same order.
	for _, r := range []dataset.Ref{"runs/r/narrow/out", "runs/r/wide/out"} {
		if _, err := e.StageDataset(ctx, "v_"+filepath.Base(filepath.Dir(string(r))), r); err != nil {
			t.Fatal(err)
		}
	}
	var staged [][]any
	e.Query(ctx, 100, func(b *dataset.Batch) error { staged = append(staged, b.Rows...); return nil }, "SELECT * FROM v_narrow")
	if !reflect.DeepEqual(staged, rows(t, e, "runs/r/wide/out")) {
		t.Fatal("a staged narrow dataset does not keep the dataset order")
	}
	// StageOwn: the files' columns alone, no join.
	if _, err := e.StageDataset(ctx, "v_own_all", "runs/r/narrow/out"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.StageOwn(ctx, "v_own", "runs/r/narrow/out"); err != nil {
		t.Fatal(err)
	}
	if cols, _ := e.Columns(ctx, "SELECT * FROM v_own"); len(cols) != 3 || cols[0].Name != "id" || cols[2].Name != "points" {
		t.Fatalf("own columns %v, want id, score, points", cols)
	}
	if r, err := e.QueryRow(ctx, "SELECT count(*) FROM (SELECT id, score, points FROM v_own EXCEPT ALL SELECT id, score, points FROM v_own_all)"); err != nil || r[0] != int64(0) {
		t.Fatalf("own rows differ: %v %v", r, err)
	}
	// A pass-through write over the placeholder view stores the same dataset
	// as over the joined view, without joining.
	if _, err := e.StagePassThrough(ctx, "v_thru", "runs/r/narrow/out"); err != nil {
		t.Fatal(err)
	}
	thru := `SELECT * FROM v_thru WHERE points >= 30 ORDER BY id`
	vouched := &dataset.Base{Ref: base, Columns: []string{"name", "born"}}
	pt, err := e.Write(ctx, dataset.Output{Ref: "runs/r/thru/out", Key: []string{"id"}, Base: vouched, PassThrough: true}, thru)
	if err != nil {
		t.Fatal(err)
	}
	jn, err := e.Write(ctx, dataset.Output{Ref: "runs/r/joined/out", Key: []string{"id"}, Base: vouched},
		`SELECT * FROM v_own_all WHERE points >= 30 ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rows(t, e, "runs/r/thru/out"), rows(t, e, "runs/r/joined/out"); pt.Rows == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("pass-through write differs (%d rows)", pt.Rows)
	}
	if !reflect.DeepEqual(pt.Base, jn.Base) {
		t.Fatalf("pass-through base %+v, joined %+v", pt.Base, jn.Base)
	}
	// A placeholder it cannot take from the base fails the write.
	if _, err := e.Write(ctx, dataset.Output{Ref: "runs/r/thru2/out", Key: []string{"id"}, PassThrough: true,
		Base: &dataset.Base{Ref: "warehouse/absent/v1", Columns: []string{"name", "born"}}}, thru); err == nil {
		t.Fatal("a pass-through write over a missing base wrote its NULL placeholders")
	}
	// Only the columns the writer vouches for come from the base.
	part, err := e.Write(ctx, dataset.Output{Ref: "runs/r/part/out", Key: []string{"id"}, Base: &dataset.Base{Ref: base, Columns: []string{"name"}}}, query)
	if err != nil || part.Base == nil || !reflect.DeepEqual(part.Base.Columns, []string{"name"}) {
		t.Fatalf("vouched columns: %v, %+v", err, part.Base)
	}
	row, err := e.QueryRow(ctx, `SELECT (SELECT count(*) FROM (SELECT * FROM v_narrow EXCEPT ALL SELECT * FROM v_wide)),
		(SELECT count(*) FROM (SELECT * FROM v_wide EXCEPT ALL SELECT * FROM v_narrow))`)
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != int64(0) || row[1] != int64(0) {
		t.Fatalf("staged narrow and wide differ: %v", row)
	}
}

func TestNarrowNeedsAUniqueKey(t *testing.T) {
	e := engine(t, folder(t))
	base := dataset.Ref("warehouse/dups/v1")
	// Two rows share a key: a join would multiply rows, so the write stays wide.
	if _, err := e.Write(ctx, dataset.Output{Ref: base, Dimension: "people", Key: []string{"id"}},
		"SELECT * FROM (VALUES ('a', 1), ('a', 2), ('b', 3)) AS t(id, v)"); err != nil {
		t.Fatal(err)
	}
	m, err := e.Write(ctx, dataset.Output{Ref: "runs/r/x/out", Key: []string{"id"}, Base: &dataset.Base{Ref: base, Columns: []string{"v"}}}, "SELECT 'a' AS id, 1 AS v")
	if err != nil {
		t.Fatal(err)
	}
	if m.Base != nil {
		t.Fatalf("narrow over a base whose key repeats: %+v", m.Base)
	}
	// Null keys never join: wide too.
	nulls := dataset.Ref("warehouse/nulls/v1")
	e.Write(ctx, dataset.Output{Ref: nulls, Key: []string{"id"}}, "SELECT * FROM (VALUES ('a', 1), (NULL, 2)) AS t(id, v)")
	if m, _ := e.Write(ctx, dataset.Output{Ref: "runs/r/y/out", Key: []string{"id"}, Base: &dataset.Base{Ref: nulls, Columns: []string{"v"}}}, "SELECT 'a' AS id, 1 AS v"); m.Base != nil {
		t.Fatal("narrow over a base with a null key")
	}
	// Without its key in the result, the base cannot serve.
	if m, _ := e.Write(ctx, dataset.Output{Ref: "runs/r/z/out", Base: &dataset.Base{Ref: "warehouse/nulls/v1", Columns: []string{"v"}}}, "SELECT 1 AS v"); m.Base != nil {
		t.Fatal("narrow without the base key")
	}
}

func TestSnapshotKeepsTheSourceAsItWas(t *testing.T) {
	store := folder(t)
	e := engine(t, store)
	dir := t.TempDir()
	src := filepath.Join(dir, "people.csv")
	write := func(body string) {
		if err := os.WriteFile(src, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("id;name;score\n00001;Ann;3\n00002;Bob;\n")
	cols := []dataset.Column{{Name: "id", Type: "string"}, {Name: "name", Type: "string"}, {Name: "score", Type: "integer"}}
	s := dataset.Source{Location: src, CSV: dataset.CSVOptions{Delimiter: ";"}, Columns: cols}
	ref := dataset.Ref("runs/r/_tables/people")
	m, err := e.Snapshot(ctx, ref, s, "people", []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 2 || !reflect.DeepEqual(m.Columns, cols) {
		t.Fatalf("snapshot: %d rows, columns %v", m.Rows, m.Columns)
	}
	write("id;name;score\n00001;Changed;9\n")
	again, err := e.Snapshot(ctx, ref, s, "people", []string{"id"})
	if err != nil || again.Rows != 2 {
		t.Fatalf("second snapshot: %v, %+v", err, again)
	}
	got := rows(t, e, ref)
	want := [][]any{{"00001", "Ann", int64(3)}, {"00002", "Bob", nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot rows %v, want %v (leading zeros kept, the source's later change unseen)", got, want)
	}
	if ok, err := e.KeyIsUnique(ctx, ref); err != nil || !ok {
		t.Fatalf("unique key: %v %v", ok, err)
	}
	// A narrow dataset over the snapshot.
	n, err := e.Write(ctx, dataset.Output{Ref: "runs/r/a/out", Key: []string{"id"}, Base: &dataset.Base{Ref: ref, Columns: []string{"name", "score"}}},
		"SELECT *, score + 1 AS next FROM "+mustStage(t, e, ref)+" ORDER BY id DESC")
	if err != nil {
		t.Fatal(err)
	}
	if n.Base == nil {
		t.Fatal("not narrow over a snapshot")
	}
	if got := rows(t, e, "runs/r/a/out"); !reflect.DeepEqual(got, [][]any{{"00002", "Bob", nil, nil}, {"00001", "Ann", int64(3), int64(4)}}) {
		t.Fatalf("narrow over snapshot: %v", got)
	}
	// Folder sources: every matching file, in name order.
	sub := filepath.Join(dir, "parts")
	os.MkdirAll(filepath.Join(sub, "x"), 0o755)
	os.WriteFile(filepath.Join(sub, "b.csv"), []byte("id,name,score\n2,B,2\n"), 0o644)
	os.WriteFile(filepath.Join(sub, "x", "a.csv"), []byte("id,name,score\n1,A,1\n"), 0o644)
	os.WriteFile(filepath.Join(sub, "notes.txt"), []byte("ignored"), 0o644)
	fm, err := e.Snapshot(ctx, "runs/r/_tables/parts", dataset.Source{Location: sub, Columns: cols}, "people", []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	if fm.Rows != 2 || len(fm.Files) != 2 {
		t.Fatalf("folder snapshot: %d rows, files %v", fm.Rows, fm.Files)
	}
	if _, err := store.Stat(ctx, blob.Join("runs/r/_tables/parts", fm.Files[0])); err != nil {
		t.Fatal(err)
	}
}

func mustStage(t *testing.T, e *dataset.Engine, ref dataset.Ref) string {
	t.Helper()
	view := "staged_" + filepath.Base(string(ref))
	if _, err := e.StageDataset(ctx, view, ref); err != nil {
		t.Fatal(err)
	}
	return view
}

// A write whose key the caller vouches for records it; KeyIsUnique then
// answers from the manifest, without reading the rows.
func TestUniqueKeyVouchedManifest(t *testing.T) {
	e := engine(t, folder(t))
	dup := `SELECT * FROM (VALUES ('a', 1), ('a', 2)) AS t(id, n)`
	m, err := e.Write(ctx, dataset.Output{Ref: "runs/r/vouched/out", Key: []string{"id"}, UniqueKey: true, CreatedAt: created}, dup)
	if err != nil || !m.UniqueKey {
		t.Fatalf("manifest %+v, %v: want uniqueKey", m, err)
	}
	if ok, err := e.KeyIsUnique(ctx, "runs/r/vouched/out"); err != nil || !ok {
		t.Fatalf("KeyIsUnique = %v, %v: want the vouched answer", ok, err)
	}
	if _, err := e.Write(ctx, dataset.Output{Ref: "runs/r/probed/out", Key: []string{"id"}, CreatedAt: created}, dup); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.KeyIsUnique(ctx, "runs/r/probed/out"); err != nil || ok {
		t.Fatalf("KeyIsUnique = %v, %v: want the probe's false", ok, err)
	}
	if m, _ := e.Write(ctx, dataset.Output{Ref: "runs/r/keyless/out", UniqueKey: true, CreatedAt: created}, dup); m == nil || m.UniqueKey {
		t.Fatal("a keyless dataset is vouched unique")
	}
}

// Concurrent questions about one dataset's key scan its rows once: the
// activities of a run that stage the same table ask at the same time.
func TestKeyIsUniqueScansOnceForConcurrentCallers(t *testing.T) {
	e := engine(t, folder(t))
	if _, err := e.Write(ctx, dataset.Output{Ref: "runs/r/many/out", Key: []string{"id"}, CreatedAt: created}, people(20000)); err != nil {
		t.Fatal(err)
	}
	before := dataset.UniqueScans()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := e.KeyIsUnique(ctx, "runs/r/many/out"); err != nil || !ok {
				errs[i] = fmt.Errorf("KeyIsUnique = %v, %v", ok, err)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := dataset.UniqueScans() - before; n != 1 {
		t.Fatalf("%d scans for 8 concurrent callers, want 1", n)
	}
}

// KeyIsUnique reads a one-column string or integer key of Parquet files in
// order and answers when the keys increase (or one is null); otherwise it
// counts distinct keys. Its answers are the count's in every case.
func TestKeyIsUniqueFromOrderedKeys(t *testing.T) {
	dir := t.TempDir()
	store := folder(t)
	e := engine(t, store)
	// Another process on the same store (another Lambda of the run) reads
	// the recorded answer instead of the keys.
	other := engine(t, store)
	for i, c := range []struct {
		name, rows, typ string
		ordered         bool // answered from the keys' order
	}{
		{"increasing strings", "('a'), ('b'), ('c')", "string", true},
		{"increasing strings, two row groups", "SELECT 'k' || lpad(CAST(i AS VARCHAR), 6, '0') AS col0 FROM range(300000) AS r(i)", "string", true},
		{"unordered unique", "('b'), ('a'), ('c')", "string", false},
		{"adjacent duplicates", "('a'), ('a'), ('b')", "string", false},
		{"distant duplicates", "('b'), ('a'), ('b')", "string", false},
		{"a null", "('a'), (NULL), ('b')", "string", true},
		{"increasing integers", "(1), (5), (70)", "integer", true},
		{"integer duplicates", "(1), (5), (5)", "integer", false},
		{"negative then larger", "(-3), (-1), (2)", "integer", true},
		{"integers declared as strings", "(1), (2), (10)", "string", false}, // cast by the projection: DuckDB decides
		{"dates", "(DATE '2020-01-01'), (DATE '2020-01-02')", "date", false},
	} {
		src := filepath.Join(dir, fmt.Sprintf("s%d.parquet", i))
		q := c.rows
		if !strings.HasPrefix(q, "SELECT") {
			q = "SELECT * FROM (VALUES " + q + ")"
		}
		if err := e.Exec(ctx, "COPY ("+q+") TO "+dataset.QuoteLiteral(src)+" (FORMAT parquet, ROW_GROUP_SIZE 122880)"); err != nil {
			t.Fatal(err)
		}
		// The file's only column is col0: declared under that name.
		ref := dataset.Ref(fmt.Sprintf("runs/r/-tables/t%d", i))
		if _, err := e.Snapshot(ctx, ref, dataset.Source{Location: src, Columns: []dataset.Column{{Name: "col0", Type: c.typ}}}, "t", []string{"col0"}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		row, err := e.QueryRow(ctx, "SELECT count(*) = count(DISTINCT col0) AND bool_and(col0 IS NOT NULL) FROM read_parquet("+dataset.QuoteLiteral(src)+")")
		if err != nil {
			t.Fatal(err)
		}
		want := row[0].(bool)
		before := dataset.OrderedKeys()
		got, err := e.KeyIsUnique(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got != want {
			t.Errorf("%s: KeyIsUnique %v, the count says %v", c.name, got, want)
		}
		if ordered := dataset.OrderedKeys() > before; ordered != c.ordered {
			t.Errorf("%s: answered from the order: %v, want %v", c.name, ordered, c.ordered)
		}
		scans, recorded := dataset.UniqueScans(), dataset.RecordedKeys()
		if got, err := other.KeyIsUnique(ctx, ref); err != nil || got != want {
			t.Errorf("%s: another engine: %v %v, want %v", c.name, got, err, want)
		}
		if dataset.UniqueScans() != scans || dataset.RecordedKeys() != recorded+1 {
			t.Errorf("%s: another engine read the keys again (%d reads, %d records; want 0 and 1)", c.name,
				dataset.UniqueScans()-scans, dataset.RecordedKeys()-recorded)
		}
	}
	// A record that cannot be read is not an answer: the keys are read.
	ref := dataset.Ref("runs/r/-tables/t0")
	if err := store.Delete(ctx, ref.Key(dataset.UniqueKeyName)); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, ref.Key(dataset.UniqueKeyName), strings.NewReader("{")); err != nil {
		t.Fatal(err)
	}
	scans := dataset.UniqueScans()
	if got, err := engine(t, store).KeyIsUnique(ctx, ref); err != nil || !got {
		t.Errorf("over a broken record: %v %v, want true", got, err)
	}
	if dataset.UniqueScans() != scans+1 {
		t.Errorf("over a broken record: %d reads of the keys, want 1", dataset.UniqueScans()-scans)
	}
}

// BenchmarkKeyIsUniqueAnotherProcess measures what a process that did not
// check a snapshot's key pays for the answer (each Lambda of a run writing
// narrow datasets over it): reading 4M increasing keys, or the record the
// first one left.
//
//	go test ./shared/dataset -run '^$' -bench KeyIsUniqueAnotherProcess -benchtime 5x
func BenchmarkKeyIsUniqueAnotherProcess(b *testing.B) {
	store := folder(b)
	e := engine(b, store)
	src := filepath.Join(b.TempDir(), "purchases.parquet")
	if err := e.Exec(ctx, "COPY (SELECT 'p' || lpad(CAST(i AS VARCHAR), 9, '0') AS purchaseId FROM range(4000000) AS r(i)) TO "+
		dataset.QuoteLiteral(src)+" (FORMAT parquet, COMPRESSION zstd)"); err != nil {
		b.Fatal(err)
	}
	ref := dataset.Ref("runs/r/-tables/purchases")
	if _, err := e.Snapshot(ctx, ref, dataset.Source{Location: src}, "purchases", []string{"purchaseId"}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		record bool
	}{{"keys", false}, {"record", true}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				store.Delete(ctx, ref.Key(dataset.UniqueKeyName))
				if c.record {
					if _, err := engine(b, store).KeyIsUnique(ctx, ref); err != nil {
						b.Fatal(err)
					}
				}
				other := engine(b, store)
				b.StartTimer()
				if unique, err := other.KeyIsUnique(ctx, ref); err != nil || !unique {
					b.Fatal(unique, err)
				}
			}
		})
	}
}
