package dataset

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
)

// Output describes a dataset to write.
type Output struct {
	Ref Ref
	// Dimension is the catalog table of the rows, "" for file rows.
	Dimension string
	// Key lists the columns that identify a row; each must be a result
	// column.
	Key []string
	// CreatedAt is recorded in the manifest; default now. Pass the run's
	// reference time to make retried writes byte-identical.
	CreatedAt time.Time
	// Base, when set, writes the dataset narrow over Base.Ref (see Base),
	// leaving out of the files the result columns listed in Base.Columns
	// that the base has with the same type: the caller vouches that they
	// hold the base's values for the row's key (rows passed through). A base
	// that cannot serve (absent, key not unique or not in the result) writes
	// the dataset wide.
	Base *Base
	// PassThrough: the query reads a StagePassThrough view, whose base
	// columns are NULL placeholders. The write fails rather than store them:
	// every column of Base.Columns in the result must come from the base.
	PassThrough bool
	// RowGroupRows, when set, bounds the rows of a Parquet row group (default
	// DuckDB's 122,880): readers of windows (a channel's slices) then skip
	// whole groups instead of decoding the rows before their window.
	RowGroupRows int
	// UniqueKey: the caller vouches that Key is unique and never null over
	// the result (its rows are a subset of a population whose key is), so
	// that readers skip the check (KeyIsUnique). Only with a Key.
	UniqueKey bool
}

// Write runs query (a SELECT, with ? parameters bound to args) and stores its
// result as the dataset out.Ref, whose manifest it returns. Column types are
// normalized to the canonical DuckDB type of their Stepwise type (see
// DuckDBType). Row order is the query's: use ORDER BY for a deterministic
// output. The same query over the same data gives the same bytes.
//
// If a complete dataset already exists at out.Ref (a retried task), Write
// leaves it as it is, without running the query, and returns its manifest.
func (e *Engine) Write(ctx context.Context, out Output, query string, args ...any) (*Manifest, error) {
	if err := out.Ref.Check(); err != nil {
		return nil, err
	}
	if e.store == nil {
		return nil, errors.New("dataset: engine has no store")
	}
	if m, err := ReadManifest(ctx, e.store, out.Ref); err == nil {
		return m, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	query = trimQuery(query)
	defer traceSQL(time.Now(), "WRITE "+string(out.Ref))
	names, types, err := e.probe(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	if err := checkColumns(names, out.Key); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	items, cols := projectionItems(names, types)
	sel := strings.Join(items, ", ")
	var base *Base
	if out.PassThrough && out.Base == nil {
		return nil, fmt.Errorf("dataset %s: a pass-through write needs a base", out.Ref)
	}
	if out.Base != nil {
		from, ok, err := e.narrowColumns(ctx, out.Base, cols)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: base: %w", out.Ref, err)
		}
		if out.PassThrough {
			for _, n := range names {
				if slices.Contains(out.Base.Columns, n) && !slices.Contains(from, n) {
					return nil, fmt.Errorf("dataset %s: pass-through column %q cannot be read from base %s", out.Ref, n, out.Base.Ref)
				}
			}
		}
		if ok && len(from) > 0 {
			base = &Base{Ref: out.Base.Ref, Columns: from}
			var kept []string
			for i, n := range names {
				if !slices.Contains(from, n) {
					kept = append(kept, items[i])
				}
			}
			sel = strings.Join(kept, ", ")
		}
	}

	local := e.scratch("out") + ".parquet"
	defer os.Remove(local)
	copyStart := time.Now()
	opts := ""
	if out.RowGroupRows > 0 {
		opts = fmt.Sprintf(", ROW_GROUP_SIZE %d", out.RowGroupRows)
	}
	res, err := e.db.ExecContext(ctx, "COPY (SELECT "+sel+" FROM ("+query+"\n) AS q) TO "+QuoteLiteral(local)+
		" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1"+opts+")", args...)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, engineErr(ctx, "write", err))
	}
	traceSQL(copyStart, "COPY "+query)
	rows, err := res.RowsAffected()
	if err != nil {
		return nil, err
	}
	return e.commit(ctx, out, local, &Manifest{Columns: cols, Rows: rows, Base: base})
}

// commit stores the local Parquet file as the dataset out.Ref, described by m
// (its columns, rows and base; the rest is filled in), unless a concurrent
// writer finished first: then theirs is the dataset.
func (e *Engine) commit(ctx context.Context, out Output, local string, m *Manifest) (*Manifest, error) {
	name, err := contentName(local)
	if err != nil {
		return nil, err
	}
	created := out.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	m.Version, m.Dimension, m.Key = FormatVersion, out.Dimension, slices.Clone(out.Key)
	m.UniqueKey = out.UniqueKey && len(out.Key) > 0
	m.Files, m.CreatedAt = []string{name}, created.UTC()
	// DuckDB creates files by the umask; a dataset holds personal data.
	if err := os.Chmod(local, 0o600); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	manifest := m.encode()
	var putManifest func() error
	if st, ok := e.store.(stager); ok {
		// The manifest's file is synced while the part's is; it is put in
		// place only once the part is (a manifest never names a part that
		// is not durable).
		var put func(string) error
		var discard func()
		var serr error
		staged := make(chan struct{})
		go func() {
			defer close(staged)
			put, discard, serr = st.Stage(ctx, strings.NewReader(string(manifest)))
		}()
		err = e.putFile(ctx, out.Ref.Key(name), local)
		<-staged
		if serr == nil {
			defer discard()
		}
		if err == nil {
			err = serr
		}
		putManifest = func() error { return put(out.Ref.ManifestKey()) }
	} else {
		err = e.putFile(ctx, out.Ref.Key(name), local)
		putManifest = func() error {
			return e.store.PutIfAbsent(ctx, out.Ref.ManifestKey(), strings.NewReader(string(manifest)))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	err = putManifest()
	if errors.Is(err, blob.ErrExists) {
		// A concurrent writer finished first: theirs is the dataset.
		theirs, rerr := ReadManifest(ctx, e.store, out.Ref)
		if rerr != nil {
			return nil, rerr
		}
		if !slices.Contains(theirs.Files, name) {
			e.store.Delete(ctx, out.Ref.Key(name))
		}
		return theirs, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	// Keep the file as the local copy of the new dataset, for readers on
	// this engine.
	if _, ok := e.store.(blob.FileStore); !ok {
		dst := filepath.Join(e.cache, filepath.FromSlash(out.Ref.Key(name)))
		if os.MkdirAll(filepath.Dir(dst), 0o700) == nil {
			os.Rename(local, dst)
		}
	}
	return m, nil
}

// WarehousePrefix is the key prefix of managed table versions.
const WarehousePrefix = tablelog.Prefix

// NewTableVersion names a new immutable version of a managed table:
// warehouse/<table>/v<version>-<random id>. The random part keeps two
// writers racing for the same version apart; the commit marker (see
// tablelog) decides which version is current.
func NewTableVersion(table string, version int64) Ref {
	var b [8]byte
	rand.Read(b[:])
	return Ref(blob.Join(WarehousePrefix, table, fmt.Sprintf("v%06d-%s", version, hex.EncodeToString(b[:]))))
}

// WriteTable writes the result of query as a new version of a managed
// table (a dataset of dimension table) and returns its ref and manifest.
// Committing the version is the caller's business.
func (e *Engine) WriteTable(ctx context.Context, table string, version int64, key []string, query string, args ...any) (Ref, *Manifest, error) {
	ref := NewTableVersion(table, version)
	m, err := e.Write(ctx, Output{Ref: ref, Dimension: table, Key: key}, query, args...)
	return ref, m, err
}

// stager is a store that writes and syncs an object ahead of putting it in
// place (folderblob's Stage).
type stager interface {
	Stage(ctx context.Context, r io.Reader) (put func(key string) error, discard func(), err error)
}

// fileMover is a store that can take a local file without copying it (folderblob).
type fileMover interface {
	MoveFile(ctx context.Context, key, path string) error
}

// putFile uploads a local file; a store that can take it moves it instead.
func (e *Engine) putFile(ctx context.Context, key, local string) error {
	if m, ok := e.store.(fileMover); ok {
		return m.MoveFile(ctx, key, local)
	}
	return upload(ctx, e.store, key, local)
}

// upload copies a local file into store.
func upload(ctx context.Context, store blob.Store, key, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	return store.Put(ctx, key, f)
}

// contentName names a part file by the hash of its content.
func contentName(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "part-" + hex.EncodeToString(h.Sum(nil)[:16]) + ".parquet", nil
}

// checkColumns checks the result columns (DuckDB has already renamed
// duplicates: x, x_1) against the key.
func checkColumns(names, key []string) error {
	if len(names) == 0 {
		return errors.New("the query returns no column")
	}
	for _, k := range key {
		if !slices.Contains(names, k) {
			return fmt.Errorf("key column %q is not a result column", k)
		}
	}
	return nil
}

// trimQuery drops trailing semicolons and blanks so the query can be nested.
func trimQuery(q string) string {
	return strings.TrimRight(q, " \t\r\n;")
}
