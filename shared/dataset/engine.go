package dataset

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// Options configure an Engine.
type Options struct {
	// Store holds the datasets the engine reads and writes.
	Store blob.Store
	// WorkDir is where the engine makes its scratch folder (spill files,
	// downloaded and written Parquet files); default os.TempDir(). On Lambda
	// use /tmp.
	WorkDir string
	// Threads is DuckDB's thread count; default DefaultThreads().
	Threads int
	// MemoryLimit is DuckDB's memory limit in bytes; beyond it DuckDB spills
	// to the scratch folder. Default DefaultMemoryLimit().
	MemoryLimit int64
	// Buckets opens the bucket of an s3:// source (StageSource), for
	// example s3blob.New(client, bucket, ""). Nil refuses s3:// sources.
	Buckets func(bucket string) (blob.Store, error)
}

// Engine runs SQL over datasets with one in-memory DuckDB database, through
// a pool of connections: TEMP objects and session settings (SET) do not carry
// from one call to the next, so create views, tables and macros without TEMP.
// They are visible to every user of the engine: give each activity task its
// own Engine (opening one takes milliseconds) or unique names. An Engine is
// safe for concurrent use.
type Engine struct {
	*core
	store blob.Store
	cache string // folder of files downloaded from store
}

// core is what engines derived with On share.
type core struct {
	db      *sql.DB
	dir     string
	buckets func(string) (blob.Store, error)
	seq     atomic.Int64       // unique scratch names
	unique  sync.Map           // Ref → bool: KeyIsUnique's answers
	probes  singleflight.Group // KeyIsUnique's scans under way, by Ref
	close   sync.Once
}

// New opens an engine. Extensions are never downloaded or auto-loaded (the
// built-in parquet, json and icu are enough); the session time zone is UTC.
func New(opts Options) (*Engine, error) {
	work := opts.WorkDir
	if work == "" {
		work = os.TempDir()
	}
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("dataset: work dir: %w", err)
	}
	dir, err := os.MkdirTemp(work, "stepwise-duckdb-")
	if err != nil {
		return nil, fmt.Errorf("dataset: work dir: %w", err)
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = DefaultThreads()
	}
	cfg := url.Values{}
	cfg.Set("threads", strconv.Itoa(threads))
	cfg.Set("temp_directory", filepath.Join(dir, "spill"))
	cfg.Set("autoinstall_known_extensions", "false")
	cfg.Set("autoload_known_extensions", "false")
	mem := opts.MemoryLimit
	if mem <= 0 {
		mem = DefaultMemoryLimit()
	}
	if mem > 0 {
		cfg.Set("memory_limit", strconv.FormatInt(max(mem>>20, 64), 10)+"MiB")
	}
	connector, err := duckdb.NewConnector("?"+cfg.Encode(), func(ex driver.ExecerContext) error {
		// Datasets are immutable files: the footers one statement reads
		// serve the next ones over the same files (a write's probe and its
		// COPY, every read joining a narrow dataset's base).
		_, err := ex.ExecContext(context.Background(), "SET TimeZone = 'UTC'; SET GLOBAL parquet_metadata_cache = true", nil)
		return err
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("dataset: open duckdb: %w", err)
	}
	e := &Engine{
		core:  &core{db: sql.OpenDB(connector), dir: dir, buckets: opts.Buckets},
		store: opts.Store,
	}
	e.cache = e.scratch("blobs")
	return e, nil
}

// On returns an engine that shares e's database and scratch folder but reads
// and writes datasets in store (for example a catalog's warehouse). Closing
// either closes both.
func (e *Engine) On(store blob.Store) *Engine {
	d := &Engine{core: e.core, store: store}
	d.cache = e.scratch("blobs")
	return d
}

// Store is the blob store the engine's datasets live in.
func (e *Engine) Store() blob.Store { return e.store }

// Close closes the database and removes the scratch folder.
func (e *Engine) Close() error {
	var err error
	e.close.Do(func() {
		err = e.db.Close()
		if rerr := os.RemoveAll(e.dir); err == nil {
			err = rerr
		}
	})
	return err
}

// scratch returns a new unique path in the scratch folder.
func (c *core) scratch(kind string) string {
	return filepath.Join(c.dir, fmt.Sprintf("%s-%d", kind, c.seq.Add(1)))
}

// Exec runs statements that return no rows, with ? parameters bound to args.
func (e *Engine) Exec(ctx context.Context, query string, args ...any) error {
	defer traceSQL(time.Now(), query)
	_, err := e.db.ExecContext(ctx, query, args...)
	return engineErr(ctx, "query", err)
}

// traceSQL prints a statement's duration to stderr when STEPWISE_TRACE_SQL
// is set: the first tool to reach for when a step is slow.
// Each line shows when the statement ended (seconds since the process started),
// how long it took, and the statement.
var traceOn = os.Getenv("STEPWISE_TRACE_SQL") != ""

var traceEpoch = time.Now()

func traceSQL(start time.Time, query string) {
	if !traceOn {
		return
	}
	q := strings.Join(strings.Fields(query), " ")
	if len(q) > 160 && os.Getenv("STEPWISE_TRACE_SQL") != "full" {
		q = q[:160] + "…"
	}
	fmt.Fprintf(os.Stderr, "sql @%7.3fs %8s  %s\n", time.Since(traceEpoch).Seconds(), time.Since(start).Round(time.Millisecond), q)
}

// Batch is a run of result rows. Rows[i][j] is the value of Columns[j],
// normalized to a plain Go value (see Query).
type Batch struct {
	Columns []Column
	Rows    [][]any
}

// Query runs a query with ? parameters bound to args and passes its rows to
// fn in batches of at most size rows (default 1000). Values are plain Go
// values by Stepwise type: string, int64, float64, json.Number (decimal, exact
// digits), bool, time.Time (UTC; dates at midnight), or for json the decoded
// value; NULL is nil. The whole result of one query is materialized inside
// DuckDB (which spills beyond its memory limit); Stream reads large datasets
// window by window instead.
func (e *Engine) Query(ctx context.Context, size int, fn func(*Batch) error, query string, args ...any) error {
	if size <= 0 {
		size = 1000
	}
	defer traceSQL(time.Now(), query)
	rows, err := e.db.QueryContext(ctx, query, args...)
	if err != nil {
		return engineErr(ctx, "query", err)
	}
	defer rows.Close()
	cols, norm, err := resultColumns(rows)
	if err != nil {
		return engineErr(ctx, "query", err)
	}
	batch := &Batch{Columns: cols}
	scan := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range scan {
		ptrs[i] = &scan[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return engineErr(ctx, "query", err)
		}
		row := make([]any, len(cols))
		for i, v := range scan {
			row[i] = norm[i](v)
		}
		batch.Rows = append(batch.Rows, row)
		if len(batch.Rows) == size {
			if err := fn(batch); err != nil {
				return err
			}
			batch = &Batch{Columns: cols, Rows: make([][]any, 0, size)}
		}
	}
	if err := rows.Err(); err != nil {
		return engineErr(ctx, "query", err)
	}
	if len(batch.Rows) > 0 {
		return fn(batch)
	}
	return nil
}

// QueryRow runs a query that returns at most one row and returns its
// normalized values (nil, nil for no row).
func (e *Engine) QueryRow(ctx context.Context, query string, args ...any) ([]any, error) {
	var row []any
	err := e.Query(ctx, 1, func(b *Batch) error {
		if row != nil {
			return errors.New("dataset: QueryRow: more than one row")
		}
		row = b.Rows[0]
		return nil
	}, query, args...)
	return row, err
}

// Columns returns the columns a query would return, without running it.
func (e *Engine) Columns(ctx context.Context, query string, args ...any) ([]Column, error) {
	names, types, err := e.probe(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	cols := make([]Column, len(names))
	for i := range names {
		cols[i] = FromDuckDBType(names[i], types[i])
	}
	return cols, nil
}

// probe returns the column names and DuckDB types of a query's result.
func (e *Engine) probe(ctx context.Context, query string, args ...any) (names, types []string, err error) {
	rows, err := e.db.QueryContext(ctx, "SELECT * FROM ("+trimQuery(query)+"\n) AS q LIMIT 0", args...)
	if err != nil {
		return nil, nil, engineErr(ctx, "probe", err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, engineErr(ctx, "probe", err)
	}
	for _, ct := range cts {
		names = append(names, ct.Name())
		types = append(types, ct.DatabaseTypeName())
	}
	return names, types, engineErr(ctx, "probe", rows.Err())
}

func resultColumns(rows *sql.Rows) ([]Column, []func(any) any, error) {
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, nil, err
	}
	cols := make([]Column, len(cts))
	norm := make([]func(any) any, len(cts))
	for i, ct := range cts {
		cols[i] = FromDuckDBType(ct.Name(), ct.DatabaseTypeName())
		norm[i] = normalizer(cols[i], ct.DatabaseTypeName())
	}
	return cols, norm, nil
}

// localFile returns a local path for the object key of store: the file
// itself for file stores, else a copy downloaded into dir (reused if there).
func localFile(ctx context.Context, store blob.Store, key, dir string) (string, error) {
	if fs, ok := store.(blob.FileStore); ok {
		return fs.FilePath(key)
	}
	dst := filepath.Join(dir, filepath.FromSlash(key))
	if _, err := os.Stat(dst); err == nil {
		return dst, nil
	}
	if err := download(ctx, store, key, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// download copies an object to a local file, atomically.
func download(ctx context.Context, store blob.Store, key, dst string) error {
	rc, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".download-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("dataset: download %s: %w", key, err)
	}
	return os.Rename(tmp.Name(), dst)
}
