package dataset_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
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
)

// countingOpen opens files through os.Open and counts the opens and the
// bytes read.
type countingOpen struct{ opens, bytes atomic.Int64 }

func (c *countingOpen) open(path string) (dataset.ReadAtCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c.opens.Add(1)
	return &countingFile{File: f, n: &c.bytes}, nil
}

type countingFile struct {
	*os.File
	n *atomic.Int64
}

func (f *countingFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := f.File.ReadAt(b, off)
	f.n.Add(int64(n))
	return n, err
}

// copyParquet writes the result of query to a Parquet file through DuckDB.
func copyParquet(t *testing.T, e *dataset.Engine, file, query string) {
	t.Helper()
	if err := e.Exec(ctx, "COPY ("+query+") TO "+dataset.QuoteLiteral(file)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
}

// The columns read from a footer are those a run stages from the file:
// every DuckDB type a Parquet file can carry maps as StageSource maps it.
func TestSchemaProbeMatchesStagedSource(t *testing.T) {
	e := engine(t, folder(t))
	file := filepath.Join(t.TempDir(), "all.parquet")
	copyParquet(t, e, file, `SELECT 'a'::VARCHAR AS s, 1::BIGINT AS i64, 2::INTEGER AS i32, 3::SMALLINT AS i16, 4::TINYINT AS i8,
		5::UBIGINT AS u64, 6::UINTEGER AS u32, 7::HUGEINT AS huge, 1.5::DOUBLE AS d, 2.5::FLOAT AS f,
		1.25::DECIMAL(10,2) AS dec2, 1.2345::DECIMAL(38,4) AS dec38, 1::DECIMAL(4,0) AS dec0, true AS b,
		DATE '2020-01-02' AS dt, TIMESTAMP '2020-01-02 03:04:05' AS ts, TIMESTAMPTZ '2020-01-02 03:04:05+00' AS tstz,
		'2020-01-02 03:04:05.123456789'::TIMESTAMP_NS AS tsns, '2020-01-02 03:04:05'::TIMESTAMP_MS AS tsms,
		'{"a":1}'::JSON AS j, [1, 2] AS lst, {'x': 1, 'y': 'z'} AS st, MAP {'k': 1} AS mp,
		'12345678-1234-1234-1234-123456789abc'::UUID AS u, 'abc'::BLOB AS bl, TIME '01:02:03' AS tm,
		INTERVAL 1 DAY AS iv, NULL::VARCHAR AS nul`)
	probe := &dataset.SchemaProbe{}
	got, err := probe.SourceColumns(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.StageSource(ctx, "v", dataset.Source{Location: file})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("probe and staged columns differ:")
		for i := range max(len(got), len(want)) {
			var g, w dataset.Column
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("column %d: probe %+v, staged %+v", i, g, w)
			}
		}
	}
}

// A folder of files is read as DuckDB reads it: columns by name, those of
// later files after; files that store a column as different types are an
// error naming both.
func TestSchemaProbeFolder(t *testing.T) {
	e := engine(t, folder(t))
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "part"), 0o755)
	copyParquet(t, e, filepath.Join(dir, "a.parquet"), "SELECT 'x' AS id, 1 AS n")
	copyParquet(t, e, filepath.Join(dir, "part", "b.parquet"), "SELECT 'y' AS id, 2 AS n, true AS extra")
	probe := &dataset.SchemaProbe{}
	got, err := probe.SourceColumns(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []dataset.Column{{Name: "id", Type: "string"}, {Name: "n", Type: "integer"}, {Name: "extra", Type: "boolean"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("folder: %+v, want %+v", got, want)
	}
	if got, err = probe.SourceColumns(ctx, filepath.Join(dir, "*.parquet")); err != nil || len(got) != 2 {
		t.Fatalf("glob: %+v, %v", got, err)
	}
	copyParquet(t, e, filepath.Join(dir, "part", "c.parquet"), "SELECT 'z' AS id, 'three' AS n")
	_, err = probe.SourceColumns(ctx, dir)
	if err == nil || !strings.Contains(err.Error(), `files disagree on the type of column "n"`) || !strings.Contains(err.Error(), "c.parquet stores string") {
		t.Fatalf("disagreeing files: %v", err)
	}
}

// The footer is read once per file version: a second probe of the same
// file reads nothing; a changed modification time or content reads again.
// Only the metadata is read, never the data.
func TestSchemaProbeCache(t *testing.T) {
	e := engine(t, folder(t))
	file := filepath.Join(t.TempDir(), "big.parquet")
	copyParquet(t, e, file, "SELECT 'C' || range AS id, md5(range::VARCHAR) AS h, range AS n FROM range(50000)")
	fi, _ := os.Stat(file)
	counter := &countingOpen{}
	probe := &dataset.SchemaProbe{Open: counter.open}
	first, err := probe.SourceColumns(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	if counter.opens.Load() != 1 {
		t.Fatalf("first probe: %d opens", counter.opens.Load())
	}
	if n := counter.bytes.Load(); n == 0 || n > fi.Size()/20 {
		t.Fatalf("read %d bytes of a %d-byte file: the footer only is expected", n, fi.Size())
	}
	again, err := probe.SourceColumns(ctx, file)
	if err != nil || !reflect.DeepEqual(first, again) || counter.opens.Load() != 1 {
		t.Fatalf("second probe: %d opens, %+v, %v", counter.opens.Load(), again, err)
	}
	// Same bytes, another modification time: another version.
	mod := fi.ModTime().Add(time.Hour)
	if err := os.Chtimes(file, mod, mod); err != nil {
		t.Fatal(err)
	}
	if _, err := probe.SourceColumns(ctx, file); err != nil || counter.opens.Load() != 2 {
		t.Fatalf("after touch: %d opens, %v", counter.opens.Load(), err)
	}
	// New content.
	copyParquet(t, e, file, "SELECT 'C1' AS id, true AS active")
	got, err := probe.SourceColumns(ctx, file)
	if err != nil || counter.opens.Load() != 3 {
		t.Fatalf("after rewrite: %d opens, %v", counter.opens.Load(), err)
	}
	if want := []dataset.Column{{Name: "id", Type: "string"}, {Name: "active", Type: "boolean"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after rewrite: %+v", got)
	}
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A CSV or TSV header typed name:type is a schema; one without types is
// not (ErrNoSchema); a header typing some cells only, or naming an unknown
// type, is an error that says what is valid. JSON lines carry no schema.
func TestSchemaProbeTextFiles(t *testing.T) {
	dir := t.TempDir()
	probe := &dataset.SchemaProbe{}
	typed := writeFile(t, dir, "typed.csv", "\ufeffid:string,\"amount:decimal(2)\",n:integer,at:timestamp,ok:boolean,d:date,x:number,j:json\n00123,1.50,2,2020-01-01T00:00:00Z,true,2020-01-02,1.5,{}\n")
	got, err := probe.SourceColumns(ctx, typed)
	if err != nil {
		t.Fatal(err)
	}
	want := []dataset.Column{{Name: "id", Type: "string"}, {Name: "amount", Type: "decimal", Scale: 2}, {Name: "n", Type: "integer"},
		{Name: "at", Type: "timestamp"}, {Name: "ok", Type: "boolean"}, {Name: "d", Type: "date"}, {Name: "x", Type: "number"}, {Name: "j", Type: "json"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("typed csv: %+v", got)
	}
	tsv := writeFile(t, dir, "typed.tsv", "id:string\tn:integer\na\t1\n")
	if got, err := probe.SourceColumns(ctx, tsv); err != nil || len(got) != 2 || got[1].Type != "integer" {
		t.Fatalf("typed tsv: %+v, %v", got, err)
	}
	for _, c := range []struct{ name, text, want string }{
		{"plain.csv", "id,n\na,1\n", campaign.ErrNoSchema.Error()},
		{"colon.csv", "utm:source,n\na,1\n", campaign.ErrNoSchema.Error()},
		{"partly.csv", "id:string,n\na,1\n", `types some columns but not "n"`},
		{"unknown.csv", "id:string,n:integr\na,1\n", `header cell 2: "n:integr": unknown type "integr" (did you mean "integer"?)`},
		{"scale.csv", "id:string,n:decimal(x)\na,1\n", `"n:decimal(x)": decimal scale must be 0..18`},
		{"empty.csv", "", "the file is empty"},
		{"rows.jsonl", `{"id":"a"}` + "\n", "JSON lines"},
		{"text.parquet", "id,n\na,1\n", "not a readable Parquet file"},
	} {
		_, err := probe.SourceColumns(ctx, writeFile(t, dir, c.name, c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
		if noSchema := errors.Is(err, campaign.ErrNoSchema); noSchema != (c.name == "plain.csv" || c.name == "colon.csv" || c.name == "rows.jsonl") {
			t.Errorf("%s: errors.Is(ErrNoSchema) = %v", c.name, noSchema)
		}
	}
	// An absent source is fs.ErrNotExist (a failed store is not).
	for _, loc := range []string{"missing.parquet", "nothing-*.parquet", "folder"} {
		if loc == "folder" {
			os.Mkdir(filepath.Join(dir, "folder"), 0o755)
		}
		if _, err := probe.SourceColumns(ctx, filepath.Join(dir, loc)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want fs.ErrNotExist", loc, err)
		}
	}
}

// A typed CSV staged with the columns of its header reads each cell as its
// type (text converted, leading zeros of strings kept), under the names
// without their types; the run's snapshot reads it the same.
func TestStageTypedCSV(t *testing.T) {
	e := engine(t, folder(t))
	file := writeFile(t, t.TempDir(), "c.csv", "id:string,amount:decimal(2),n:integer\n00123,1.50,2\n")
	cols, err := (&dataset.SchemaProbe{}).SourceColumns(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	src := dataset.Source{Location: file, Columns: cols}
	if _, err := e.StageSource(ctx, "v", src); err != nil {
		t.Fatal(err)
	}
	row, err := e.QueryRow(ctx, "SELECT id, amount, n FROM v")
	if err != nil || fmt.Sprint(row) != "[00123 1.50 2]" {
		t.Fatalf("staged: %v, %v", row, err)
	}
	m, err := e.Snapshot(ctx, "snap/c", src, "c", []string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Columns, cols) {
		t.Fatalf("snapshot columns %+v", m.Columns)
	}
	if _, err := e.StageDataset(ctx, "s", "snap/c"); err != nil {
		t.Fatal(err)
	}
	if row, err = e.QueryRow(ctx, "SELECT id, amount, n FROM s"); err != nil || fmt.Sprint(row) != "[00123 1.50 2]" {
		t.Fatalf("snapshot: %v, %v", row, err)
	}
}

// S3 sources: the footer is read with ranged GETs through the store (not
// the whole object), and the cache follows the object's ETag.
func TestSchemaProbeS3(t *testing.T) {
	var ranged, whole atomic.Int64
	h := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, ".parquet") {
			if r.Header.Get("Range") != "" {
				ranged.Add(1)
			} else {
				whole.Add(1)
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
	store := s3blob.New(client, "src", "")
	e := engine(t, folder(t))
	dir := t.TempDir()
	put := func(query string) int64 {
		file := filepath.Join(dir, "x.parquet")
		copyParquet(t, e, file, query)
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := store.Put(ctx, "data/customers.parquet", f); err != nil {
			t.Fatal(err)
		}
		fi, _ := f.Stat()
		return fi.Size()
	}
	size := put("SELECT 'a' AS id, 1 AS n")
	probe := &dataset.SchemaProbe{Buckets: func(bucket string) (blob.Store, error) {
		if bucket != "src" {
			return nil, fmt.Errorf("no bucket %s", bucket)
		}
		return fixedTimes{store}, nil
	}}
	for _, loc := range []string{"s3://src/data/customers.parquet", "s3://src/data/"} {
		got, err := probe.SourceColumns(ctx, loc)
		if want := []dataset.Column{{Name: "id", Type: "string"}, {Name: "n", Type: "integer"}}; err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: %+v, %v", loc, got, err)
		}
	}
	if ranged.Load() != 1 || whole.Load() != 0 { // one GET of the file's end, then the cache
		t.Fatalf("GETs: %d ranged, %d whole", ranged.Load(), whole.Load())
	}
	before := ranged.Load()
	if _, err := probe.SourceColumns(ctx, "s3://src/data/customers.parquet"); err != nil || ranged.Load() != before {
		t.Fatalf("cached probe made %d GETs, %v", ranged.Load()-before, err)
	}
	// Same size, same modification time, other bytes: the ETag tells.
	if put("SELECT 'b' AS id, 2 AS n") != size {
		t.Fatal("the rewritten object should keep its size")
	}
	if _, err := probe.SourceColumns(ctx, "s3://src/data/customers.parquet"); err != nil || ranged.Load() == before {
		t.Fatalf("after rewrite: %d GETs, %v", ranged.Load()-before, err)
	}
	if _, err := (&dataset.SchemaProbe{}).SourceColumns(ctx, "s3://src/data/customers.parquet"); err == nil || !strings.Contains(err.Error(), "not configured") {
		t.Fatalf("no buckets: %v", err)
	}
}

// fixedTimes is an S3 store whose objects all seem modified at one instant,
// so that only the ETag tells versions of the same size apart.
type fixedTimes struct{ *s3blob.Store }

var fixedTime = time.Unix(1e9, 0).UTC()

func (s fixedTimes) Stat(ctx context.Context, key string) (blob.Info, error) {
	info, err := s.Store.Stat(ctx, key)
	info.ModTime = fixedTime
	return info, err
}

func (s fixedTimes) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		for info, err := range s.Store.List(ctx, prefix) {
			info.ModTime = fixedTime
			if !yield(info, err) {
				return
			}
		}
	}
}
