package dataset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

var ctx = context.Background()

func folder(t testing.TB) *folderblob.Store {
	s, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func engine(t testing.TB, store blob.Store, opts ...func(*dataset.Options)) *dataset.Engine {
	o := dataset.Options{Store: store, WorkDir: t.TempDir(), Threads: 2, MemoryLimit: 256 << 20}
	for _, f := range opts {
		f(&o)
	}
	e, err := dataset.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// fakeS3 returns an S3 client on an in-process gofakes3.
func fakeS3(t testing.TB) *s3.Client {
	ts := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server())
	t.Cleanup(ts.Close)
	return s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{},
	})
}

var created = time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)

const allTypes = `SELECT * FROM (VALUES
	(1, 'Zoé', 42::BIGINT, 1.5::DOUBLE, 12.50::DECIMAL(18,2), true, DATE '1990-01-02', TIMESTAMPTZ '2026-01-31 09:00:00Z', '{"a":[1,2]}'::JSON,
	 7::INTEGER, 3::HUGEINT, 2.5::FLOAT, TIMESTAMP '2026-02-01 10:00:00', [1, 2], {'x': 1}, 1.234::DECIMAL(5,3), 'ab'::BLOB),
	(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
	(3, 'x', -9223372036854775807, -0.25, -0.05::DECIMAL(18,2), false, DATE '2026-12-31', TIMESTAMPTZ '1970-01-01 00:00:00Z', '"s"'::JSON,
	 -1, -5, 0, TIMESTAMP '2000-01-01', [], {'x': NULL}, 0::DECIMAL(5,3), ''::BLOB)
) AS t(id, s, i, n, d, b, dt, ts, j, small, huge, f, naive, list, struct, d3, bl) ORDER BY id`

func TestRoundTripAllTypes(t *testing.T) {
	e := engine(t, folder(t))
	m, err := e.Write(ctx, dataset.Output{Ref: "runs/r1/a/out", Dimension: "customers", Key: []string{"id"}, CreatedAt: created}, allTypes)
	if err != nil {
		t.Fatal(err)
	}
	want := []dataset.Column{
		{Name: "id", Type: "integer"}, {Name: "s", Type: "string"}, {Name: "i", Type: "integer"}, {Name: "n", Type: "number"},
		{Name: "d", Type: "decimal", Scale: 2}, {Name: "b", Type: "boolean"}, {Name: "dt", Type: "date"}, {Name: "ts", Type: "timestamp"},
		{Name: "j", Type: "json"}, {Name: "small", Type: "integer"}, {Name: "huge", Type: "integer"}, {Name: "f", Type: "number"},
		{Name: "naive", Type: "timestamp"}, {Name: "list", Type: "json"}, {Name: "struct", Type: "json"},
		{Name: "d3", Type: "decimal", Scale: 3}, {Name: "bl", Type: "string"},
	}
	if !reflect.DeepEqual(m.Columns, want) {
		t.Fatalf("columns = %+v", m.Columns)
	}
	if m.Rows != 3 || m.Dimension != "customers" || len(m.Files) != 1 || !m.CreatedAt.Equal(created) {
		t.Fatalf("manifest = %+v", m)
	}
	p, err := e.Preview(ctx, "runs/r1/a/out", 10)
	if err != nil {
		t.Fatal(err)
	}
	day := func(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC) }
	wantRows := [][]any{
		{int64(1), "Zoé", int64(42), 1.5, json.Number("12.50"), true, day(1990, 1, 2), time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC),
			map[string]any{"a": []any{float64(1), float64(2)}}, int64(7), int64(3), 2.5, time.Date(2026, 2, 1, 10, 0, 0, 0, time.UTC),
			[]any{float64(1), float64(2)}, map[string]any{"x": float64(1)}, json.Number("1.234"), "ab"},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{int64(3), "x", int64(-9223372036854775807), -0.25, json.Number("-0.05"), false, day(2026, 12, 31), time.Unix(0, 0).UTC(),
			"s", int64(-1), int64(-5), 0.0, day(2000, 1, 1), []any{}, map[string]any{"x": nil}, json.Number("0.000"), ""},
	}
	if p.Total != 3 || !reflect.DeepEqual(p.Columns, want) {
		t.Fatalf("page = %+v", p)
	}
	for i := range wantRows {
		if !reflect.DeepEqual(p.Rows[i], wantRows[i]) {
			t.Errorf("row %d:\n got %#v\nwant %#v", i, p.Rows[i], wantRows[i])
		}
	}
	// Staged, the dataset has the canonical DuckDB types.
	if _, err := e.StageDataset(ctx, "v", "runs/r1/a/out"); err != nil {
		t.Fatal(err)
	}
	row, err := e.QueryRow(ctx, `SELECT typeof(i), typeof(d), typeof(ts), typeof(j), typeof(small), typeof(naive), typeof(list) FROM v LIMIT 1`)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(row); got != "[BIGINT DECIMAL(18,2) TIMESTAMP WITH TIME ZONE JSON BIGINT TIMESTAMP WITH TIME ZONE JSON]" {
		t.Fatalf("types = %s", got)
	}
	// A JSON round trip of a page keeps decimals exact.
	b, _ := json.Marshal(p.Rows[0][4])
	if string(b) != "12.50" {
		t.Fatalf("decimal JSON = %s", b)
	}
}

func TestComposeStagedViews(t *testing.T) {
	e := engine(t, folder(t))
	src := dataset.Output{Ref: dataset.PortRef("run1", "lapsed", "out"), Dimension: "customers", Key: []string{"customerId"}, CreatedAt: created}
	if _, err := e.Write(ctx, src, `SELECT 'C' || lpad(i::VARCHAR, 3, '0') AS customerId, i % 3 = 0 AS vip, i * 10.0 AS spend FROM range(100) t(i) ORDER BY i`); err != nil {
		t.Fatal(err)
	}
	if string(src.Ref) != "runs/run1/lapsed/out" {
		t.Fatalf("PortRef = %s", src.Ref)
	}
	if _, err := e.StageDataset(ctx, "lapsed", src.Ref); err != nil {
		t.Fatal(err)
	}
	out := dataset.Output{Ref: dataset.PortRef("run1", "byValue", "vip"), Dimension: "customers", Key: []string{"customerId"}, CreatedAt: created}
	m, err := e.Write(ctx, out, `SELECT * FROM lapsed WHERE vip AND spend >= ? ORDER BY customerId;`, 500)
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 17 { // multiples of 3 in 50..99
		t.Fatalf("rows = %d, want 17", m.Rows)
	}
	row, err := e.QueryRow(ctx, "SELECT count(*), sum(spend) FROM lapsed WHERE vip")
	if err != nil || row[0] != int64(34) || row[1] != json.Number("16830.0") {
		t.Fatalf("QueryRow = %v, %v", row, err)
	}
	cols, err := e.Columns(ctx, "SELECT customerId, spend * 2 AS double FROM lapsed")
	if err != nil || len(cols) != 2 || cols[1].Type != "decimal" || cols[1].Scale != 1 {
		t.Fatalf("Columns = %v, %v", cols, err)
	}
	if _, err := e.Write(ctx, dataset.Output{Ref: "x/y", Key: []string{"nope"}}, "SELECT 1 AS a"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown key column: %v", err)
	}
	// DuckDB renames duplicate result names (names are case-insensitive).
	if m, err := e.Write(ctx, dataset.Output{Ref: "x/y"}, "SELECT 1 AS a, 2 AS A"); err != nil || m.Columns[1].Name != "A_1" {
		t.Fatalf("duplicate columns: %+v, %v", m, err)
	}
}

func TestEmptyResult(t *testing.T) {
	e := engine(t, folder(t))
	m, err := e.Write(ctx, dataset.Output{Ref: "runs/r/a/out"}, "SELECT i AS id, 'x' AS name FROM range(10) t(i) WHERE i > 100")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 0 || len(m.Columns) != 2 {
		t.Fatalf("manifest = %+v", m)
	}
	p, err := e.Preview(ctx, "runs/r/a/out", 5)
	if err != nil || len(p.Rows) != 0 || p.Total != 0 || len(p.Columns) != 2 {
		t.Fatalf("preview = %+v, %v", p, err)
	}
	if _, err := e.StageDataset(ctx, "empty", "runs/r/a/out"); err != nil {
		t.Fatal(err)
	}
	row, err := e.QueryRow(ctx, "SELECT count(*) FROM empty")
	if err != nil || row[0] != int64(0) {
		t.Fatalf("count = %v, %v", row, err)
	}
}

// failing fails the manifest write, as a crash between files and manifest would.
type failing struct {
	blob.Store
}

func (f failing) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if strings.HasSuffix(key, dataset.ManifestName) {
		return errors.New("injected failure")
	}
	return f.Store.PutIfAbsent(ctx, key, r)
}

func TestManifestMakesDatasetVisible(t *testing.T) {
	store := folder(t)
	ref := dataset.Ref("runs/r/a/out")
	broken := engine(t, failing{store})
	if _, err := broken.Write(ctx, dataset.Output{Ref: ref}, "SELECT range AS i FROM range(10)"); err == nil {
		t.Fatal("Write succeeded without its manifest")
	}
	// The part file is there, but the dataset is not.
	if keys, _ := blob.Keys(ctx, store, string(ref)); len(keys) != 1 || !strings.Contains(keys[0], "part-") {
		t.Fatalf("keys = %v", keys)
	}
	e := engine(t, store)
	if _, err := e.StageDataset(ctx, "v", ref); !errors.Is(err, dataset.ErrNotFound) || !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("StageDataset of an incomplete dataset: %v", err)
	}
	if _, err := e.Preview(ctx, ref, 1); !errors.Is(err, dataset.ErrNotFound) {
		t.Fatalf("Preview of an incomplete dataset: %v", err)
	}
	// The retry completes it.
	m, err := e.Write(ctx, dataset.Output{Ref: ref, CreatedAt: created}, "SELECT range AS i FROM range(10)")
	if err != nil || m.Rows != 10 {
		t.Fatalf("retry: %+v, %v", m, err)
	}
	// A later writer with the same ref does not replace it (no query run).
	again, err := e.Write(ctx, dataset.Output{Ref: ref}, "SELECT error('must not run') AS i")
	if err != nil || !reflect.DeepEqual(again, m) {
		t.Fatalf("second write: %+v, %v", again, err)
	}
	if p, _ := e.Preview(ctx, ref, 100); len(p.Rows) != 10 {
		t.Fatalf("dataset changed: %d rows", len(p.Rows))
	}
}

// A writer that loses the manifest race adopts the winner's dataset.
type racing struct {
	blob.Store
	before func()
}

func (r racing) PutIfAbsent(ctx context.Context, key string, body io.Reader) error {
	r.before()
	return r.Store.PutIfAbsent(ctx, key, body)
}

func TestConcurrentWriterLoses(t *testing.T) {
	store := folder(t)
	ref := dataset.Ref("runs/r/a/out")
	winner := engine(t, store)
	var theirs *dataset.Manifest
	loser := engine(t, racing{store, func() {
		var err error
		if theirs, err = winner.Write(ctx, dataset.Output{Ref: ref, CreatedAt: created}, "SELECT 1 AS i"); err != nil {
			t.Error(err)
		}
	}})
	got, err := loser.Write(ctx, dataset.Output{Ref: ref, CreatedAt: created}, "SELECT 2 AS i")
	if err != nil || !reflect.DeepEqual(got, theirs) {
		t.Fatalf("loser got %+v, %v; want the winner's %+v", got, err, theirs)
	}
	keys, _ := blob.Keys(ctx, store, string(ref))
	if len(keys) != 2 { // the winner's part and manifest; the loser's part is gone
		t.Fatalf("keys = %v", keys)
	}
}

func TestDeterministicOutput(t *testing.T) {
	query := `SELECT i AS id, md5(i::VARCHAR) AS h, (hash(i) % 1000)::DECIMAL(18,2) / 100 AS amount,
		TIMESTAMPTZ '2026-01-01' + to_seconds(i) AS at FROM range(250000) t(i) ORDER BY id`
	var manifests, parts [][]byte
	for range 2 {
		store := folder(t)
		e := engine(t, store)
		m, err := e.Write(ctx, dataset.Output{Ref: "runs/r/a/out", Key: []string{"id"}, CreatedAt: created}, query)
		if err != nil {
			t.Fatal(err)
		}
		mb, _ := blob.ReadAll(ctx, store, "runs/r/a/out/manifest.json")
		pb, _ := blob.ReadAll(ctx, store, "runs/r/a/out/"+m.Files[0])
		manifests, parts = append(manifests, mb), append(parts, pb)
	}
	if !bytes.Equal(manifests[0], manifests[1]) {
		t.Fatalf("manifests differ:\n%s\n%s", manifests[0], manifests[1])
	}
	if !bytes.Equal(parts[0], parts[1]) {
		t.Fatal("part files differ")
	}
}

func TestStreamBatches(t *testing.T) {
	defer dataset.SetStreamWindow(7000)()
	e := engine(t, folder(t))
	const n = 50000
	ref := dataset.Ref("runs/r/send/out")
	if _, err := e.Write(ctx, dataset.Output{Ref: ref}, fmt.Sprintf(`SELECT i AS id, repeat('x', 100) AS pad FROM range(%d) t(i) ORDER BY i`, n)); err != nil {
		t.Fatal(err)
	}
	read := func(opts dataset.StreamOptions) (ids []int64, sizes []int) {
		t.Helper()
		_, err := e.Stream(ctx, ref, opts, func(b *dataset.Batch) error {
			sizes = append(sizes, len(b.Rows))
			if b.Columns[0].Name != "id" {
				t.Fatalf("columns = %v", b.Columns)
			}
			for _, r := range b.Rows {
				ids = append(ids, r[0].(int64))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids, sizes
	}
	ids, sizes := read(dataset.StreamOptions{Columns: []string{"id"}, BatchSize: 1000})
	if len(ids) != n || len(sizes) != 50 || slices.ContainsFunc(sizes, func(s int) bool { return s != 1000 }) {
		t.Fatalf("read %d rows in batches %v", len(ids), sizes)
	}
	for i, id := range ids {
		if id != int64(i) {
			t.Fatalf("row %d has id %d: order lost", i, id)
		}
	}
	// Slices (Map iterations) cover the dataset exactly once.
	var all []int64
	for off := int64(0); off < n; off += 12345 {
		part, _ := read(dataset.StreamOptions{Offset: off, Limit: 12345, BatchSize: 999})
		all = append(all, part...)
	}
	if !slices.Equal(all, ids) {
		t.Fatalf("slices read %d rows", len(all))
	}
	// Stopping early returns the callback's error.
	stop := errors.New("stop")
	if _, err := e.Stream(ctx, ref, dataset.StreamOptions{}, func(*dataset.Batch) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("Stream error = %v", err)
	}
	if _, err := e.Stream(ctx, ref, dataset.StreamOptions{Columns: []string{"nope"}}, func(*dataset.Batch) error { return nil }); err == nil {
		t.Fatal("unknown column accepted")
	}
}

// Streaming a dataset far larger than the window holds about one window:
// neither the Go heap nor the process (DuckDB's materialized results are C
// memory) grows with the dataset.
func TestStreamMemoryIsBounded(t *testing.T) {
	defer dataset.SetStreamWindow(5000)()
	e := engine(t, folder(t))
	const n = 80000 // 76 MiB of row text
	ref := dataset.Ref("runs/r/big/out")
	if _, err := e.Write(ctx, dataset.Output{Ref: ref}, fmt.Sprintf(`SELECT i AS id, repeat(chr(65 + (i %% 26)::INTEGER), 1000) AS pad FROM range(%d) t(i)`, n)); err != nil {
		t.Fatal(err)
	}
	var rows int64
	var peakHeap uint64
	var ms runtime.MemStats
	rss0, peakRSS := rss(), int64(0)
	_, err := e.Stream(ctx, ref, dataset.StreamOptions{BatchSize: 5000}, func(b *dataset.Batch) error {
		rows += int64(len(b.Rows))
		if rows%10000 == 0 {
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			peakRSS = max(peakRSS, rss())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows != n {
		t.Fatalf("rows = %d", rows)
	}
	t.Logf("streaming %d MiB of rows: peak Go heap %d MiB, process grew by %d MiB", n*1000>>20, peakHeap>>20, (peakRSS-rss0)>>20)
	if peakHeap > 40<<20 {
		t.Errorf("Go heap reached %d MiB while streaming", peakHeap>>20)
	}
	// Reading the whole dataset in one query grows it by about 200 MiB.
	if rss0 > 0 && peakRSS-rss0 > 100<<20 {
		t.Errorf("process memory grew by %d MiB while streaming", (peakRSS-rss0)>>20)
	}
}

// rss is the resident memory of the process (Linux; 0 elsewhere).
func rss() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}

func TestStageFromS3(t *testing.T) {
	client := fakeS3(t)
	src := s3blob.New(client, "landing", "")
	put := func(key, body string) {
		if err := src.Put(ctx, key, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	put("in/leads-1.csv", "email,points,zip\nA@x.test,10,00123\nb@x.test,20,75001\n")
	put("in/leads-2.csv", "email,points,zip\nc@x.test,30,10115\n")
	put("in/notes.txt", "ignored")
	put("events/day=1/e.jsonl", `{"id": 1, "kind": "open"}`+"\n"+`{"id": 2, "kind": "click"}`+"\n")
	buckets := func(bucket string) (blob.Store, error) {
		if bucket != "landing" {
			return nil, fmt.Errorf("no bucket %s", bucket)
		}
		return s3blob.New(client, bucket, ""), nil
	}
	// Datasets themselves live in S3 too: written there, read through temp files.
	data := s3blob.New(client, "data", "stepwise")
	e := engine(t, data, func(o *dataset.Options) { o.Buckets = buckets })

	cols, err := e.StageSource(ctx, "leads", dataset.Source{
		Location: "s3://landing/in/",
		Columns:  []dataset.Column{{Name: "email", Type: "string"}, {Name: "zip", Type: "string"}, {Name: "points", Type: "integer"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 3 || cols[2].Type != "integer" {
		t.Fatalf("cols = %v", cols)
	}
	m, err := e.Write(ctx, dataset.Output{Ref: "runs/r/load/out"}, "SELECT * FROM leads ORDER BY points")
	if err != nil || m.Rows != 3 {
		t.Fatalf("write: %+v, %v", m, err)
	}
	if _, err := data.Stat(ctx, "runs/r/load/out/manifest.json"); err != nil {
		t.Fatalf("manifest not in S3: %v", err)
	}
	// A fresh engine (no local copy) reads the dataset back from S3.
	e2 := engine(t, data)
	p, err := e2.Preview(ctx, "runs/r/load/out", 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(p.Rows) != "[[A@x.test 00123 10] [b@x.test 75001 20] [c@x.test 10115 30]]" {
		t.Fatalf("rows = %v", p.Rows)
	}

	for _, c := range []struct {
		src  dataset.Source
		want string
	}{
		{dataset.Source{Location: "s3://landing/in/leads-2.csv"}, "[[c@x.test 30 10115]]"},
		{dataset.Source{Location: "s3://landing/in", Format: "CSV"}, "[[A@x.test 10 00123] [b@x.test 20 75001] [c@x.test 30 10115]]"},
		{dataset.Source{Location: "s3://landing/in/leads-*.csv", Text: true}, "[[A@x.test 10 00123] [b@x.test 20 75001] [c@x.test 30 10115]]"},
		// Hive-style folders become columns, as DuckDB reads them.
		{dataset.Source{Location: "s3://landing/events/*/e.jsonl"}, "[[1 open 1] [2 click 1]]"},
	} {
		if _, err := e.StageSource(ctx, "src", c.src); err != nil {
			t.Fatalf("%s: %v", c.src.Location, err)
		}
		var got [][]any
		if err := e.Query(ctx, 100, func(b *dataset.Batch) error { got = append(got, b.Rows...); return nil }, "SELECT * FROM src"); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("%s: rows = %v, want %s", c.src.Location, got, c.want)
		}
	}
	if _, err := e.StageSource(ctx, "x", dataset.Source{Location: "s3://landing/nothing/"}); err == nil {
		t.Fatal("empty S3 folder accepted")
	}
	if _, err := e2.StageSource(ctx, "x", dataset.Source{Location: "s3://landing/in/leads-2.csv"}); err == nil {
		t.Fatal("s3 source accepted without Buckets")
	}
}

func TestStageLocalSources(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("a.tsv", "1\tParis\t2026-01-31T09:00:00Z\n2\tLyon\t\n")
	write("semi.txt", "#skip me\nid;amount\n1;\"2,50\"\n")
	write("people.jsonl", `{"name":"Ann","age":30,"tags":["a"]}`+"\n"+`{"name":"Bob","age":null,"tags":[]}`+"\n")
	e := engine(t, folder(t))
	// Parquet folder written by DuckDB itself, one file per partition.
	if err := e.Exec(ctx, "COPY (SELECT i AS id, i % 2 AS part FROM range(6) t(i)) TO "+dataset.QuoteLiteral(filepath.Join(dir, "pq"))+" (FORMAT parquet, PARTITION_BY (part))"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		src   dataset.Source
		query string
		want  string
	}{
		{dataset.Source{Location: filepath.Join(dir, "a.tsv"), CSV: dataset.CSVOptions{NoHeader: true},
			Columns: []dataset.Column{{Name: "id", Type: "integer"}, {Name: "city", Type: "string"}, {Name: "seenAt", Type: "timestamp"}}},
			"SELECT id, city, seenAt FROM v ORDER BY id", "[[1 Paris 2026-01-31 09:00:00 +0000 UTC] [2 Lyon <nil>]]"},
		{dataset.Source{Location: filepath.Join(dir, "semi.txt"), Format: "csv", CSV: dataset.CSVOptions{Delimiter: ";", SkipLines: 1}, Text: true},
			"SELECT * FROM v", "[[1 2,50]]"},
		{dataset.Source{Location: filepath.Join(dir, "people.jsonl")}, "SELECT name, age, tags FROM v ORDER BY name", "[[Ann 30 [a]] [Bob <nil> []]]"},
		{dataset.Source{Location: filepath.Join(dir, "pq")}, "SELECT sum(id), count(*) FROM v", "[[15 6]]"},
		{dataset.Source{Location: filepath.Join(dir, "pq", "*", "*.parquet")}, "SELECT count(*) FROM v", "[[6]]"},
	}
	for _, c := range cases {
		cols, err := e.StageSource(ctx, "v", c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.src.Location, err)
		}
		var got [][]any
		if err := e.Query(ctx, 10, func(b *dataset.Batch) error { got = append(got, b.Rows...); return nil }, c.query); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("%s: rows = %v, want %s (columns %v)", c.src.Location, got, c.want, cols)
		}
	}
	_, err := e.StageSource(ctx, "v", dataset.Source{Location: filepath.Join(dir, "a.tsv"), Columns: []dataset.Column{{Name: "emial", Type: "string"}}})
	if err == nil || !strings.Contains(err.Error(), "emial") {
		t.Fatalf("missing column: %v", err)
	}
	if _, err := e.StageSource(ctx, "v", dataset.Source{Location: filepath.Join(dir, "missing.csv")}); err == nil {
		t.Fatal("missing file accepted")
	}
	if _, err := e.StageSource(ctx, "v", dataset.Source{Location: dir, Format: "xml"}); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestWriteTableAndOn(t *testing.T) {
	runs, warehouse := folder(t), folder(t)
	e := engine(t, runs)
	wh := e.On(warehouse)
	ref, m, err := wh.WriteTable(ctx, "customers", 3, []string{"customerId"}, "SELECT 'C1' AS customerId, 5 AS points")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ref), "warehouse/customers/v000003-") || m.Dimension != "customers" || m.Rows != 1 {
		t.Fatalf("ref %s, manifest %+v", ref, m)
	}
	if _, err := dataset.ReadManifest(ctx, warehouse, ref); err != nil {
		t.Fatalf("not in the warehouse store: %v", err)
	}
	if _, err := e.StageDataset(ctx, "t", ref); !errors.Is(err, dataset.ErrNotFound) {
		t.Fatalf("table version visible in the runs store: %v", err)
	}
	if _, err := wh.StageDataset(ctx, "t", ref); err != nil {
		t.Fatal(err)
	}
	if other := dataset.NewTableVersion("customers", 3); other == ref {
		t.Fatal("two versions got the same ref")
	}
}

func TestEngineSettings(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
	if got := dataset.DefaultMemoryLimit(); got <= 0 || got > 1024<<20 {
		t.Fatalf("DefaultMemoryLimit = %d with a 1024 MB Lambda", got)
	}
	e := engine(t, folder(t), func(o *dataset.Options) { o.MemoryLimit = 0; o.Threads = 1 })
	row, err := e.QueryRow(ctx, `SELECT current_setting('threads'), current_setting('memory_limit'), current_setting('TimeZone'),
		current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions'), current_setting('temp_directory')`)
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != int64(1) || row[1] != "614.0 MiB" || row[2] != "UTC" || row[3] != false || row[4] != false || !strings.Contains(row[5].(string), "stepwise-duckdb-") {
		t.Fatalf("settings = %v", row)
	}
	// No extension is fetched or loaded behind our back: s3:// fails at once.
	start := time.Now()
	if err := e.Exec(ctx, "SELECT * FROM read_parquet('s3://b/x.parquet')"); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("s3 read: %v after %v", err, time.Since(start))
	}
	if dataset.QuoteIdent(`a"b`) != `"a""b"` || dataset.QuoteLiteral("it's") != "'it''s'" {
		t.Fatal("quoting")
	}
}

func TestTypeMapping(t *testing.T) {
	for duck, want := range map[string]dataset.Column{
		"VARCHAR": {Type: "string"}, "UUID": {Type: "string"}, "ENUM": {Type: "string"}, "INTERVAL": {Type: "string"},
		"BIGINT": {Type: "integer"}, "INTEGER": {Type: "integer"}, "HUGEINT": {Type: "integer"}, "UBIGINT": {Type: "integer"},
		"DOUBLE": {Type: "number"}, "FLOAT": {Type: "number"}, "DECIMAL(10,2)": {Type: "decimal", Scale: 2},
		"DECIMAL(38,4)": {Type: "decimal", Scale: 4}, "BOOLEAN": {Type: "boolean"}, "DATE": {Type: "date"},
		"TIMESTAMP": {Type: "timestamp"}, "TIMESTAMPTZ": {Type: "timestamp"}, "TIMESTAMP WITH TIME ZONE": {Type: "timestamp"},
		"JSON": {Type: "json"}, "INTEGER[]": {Type: "json"}, "STRUCT(x INTEGER)": {Type: "json"}, "MAP(VARCHAR, INTEGER)": {Type: "json"},
	} {
		if got := dataset.FromDuckDBType("", duck); got.Type != want.Type || got.Scale != want.Scale {
			t.Errorf("FromDuckDBType(%s) = %+v, want %+v", duck, got, want)
		}
	}
	for _, typ := range campaign.ColumnTypes {
		c := dataset.Column{Name: "c", Type: typ, Scale: 2}
		duck, err := dataset.DuckDBType(c)
		if err != nil {
			t.Fatal(err)
		}
		if back := dataset.FromDuckDBType("c", duck); back.Type != typ {
			t.Errorf("%s -> %s -> %s", typ, duck, back.Type)
		}
	}
	if _, err := dataset.DuckDBType(dataset.Column{Name: "c", Type: "money"}); err == nil {
		t.Fatal("unknown type accepted")
	}
}

// DuckDB's messages quote values, SQL and paths: the engine's errors show
// the kind only and keep the message as Detail (for a debug log).
func TestEngineErrorsRedacted(t *testing.T) {
	const value = "bob.private@corp.example"
	e := engine(t, folder(t))
	check := func(what string, err error) {
		t.Helper()
		var ee *dataset.EngineError
		if !errors.As(err, &ee) {
			t.Fatalf("%s: %T %v, want an EngineError", what, err, err)
		}
		if msg := err.Error(); strings.Contains(msg, value) || strings.Contains(msg, "SELECT") || strings.Contains(msg, "CAST") || strings.Contains(msg, os.TempDir()) {
			t.Errorf("%s: %q shows DuckDB's message", what, msg)
		}
		if !strings.Contains(ee.Detail(), value) || ee.Transient() {
			t.Errorf("%s: detail %q, transient %v", what, ee.Detail(), ee.Transient())
		}
	}
	_, err := e.QueryRow(ctx, "SELECT CAST(? AS INTEGER)", value)
	check("query", err)
	check("query literal", e.Exec(ctx, "SELECT CAST('"+value+"' AS INTEGER)"))
	_, err = e.Columns(ctx, "SELECT '"+value+"' + no_such_column")
	check("probe", err)
	_, err = e.Write(ctx, dataset.Output{Ref: "runs/r/x/out"}, "SELECT CAST('"+value+"' AS INTEGER) AS n")
	check("write", err)
	if err == nil || !strings.HasPrefix(err.Error(), "dataset runs/r/x/out: dataset engine: Conversion Error during write") {
		t.Errorf("write: %v", err)
	}
}
