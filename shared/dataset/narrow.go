package dataset

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// Narrow datasets.
//
// Most transitions of a campaign carry the rows of one catalog table plus a
// few computed columns. Writing every column of every row at every step is
// most of a step's cost, so a dataset may be narrow: its files hold the key
// and the columns that are not the base's, and the other columns are read
// from the base (an immutable dataset in the same store whose key is unique
// and never null: a managed table version, or a run's snapshot of a table's
// source) by joining on the key. Readers see the same columns either way.
// A narrow dataset is only as durable as its base: run snapshots expire with
// the run, so whatever outlives a run (saved audiences, table versions) is
// written wide.

// Base names the dataset a narrow dataset takes columns from.
type Base struct {
	// Ref is the base dataset, in the same store.
	Ref Ref `json:"ref"`
	// Columns are the dataset's columns read from the base, by key.
	Columns []string `json:"columns"`
}

// SourceFormat says how to read the files of a source snapshot: a source's
// own files, read as Format with each column cast to its type.
type SourceFormat struct {
	Format string      `json:"format"`
	CSV    *CSVOptions `json:"csv,omitempty"`
}

// narrowColumns returns the columns of base.Columns a write can leave out:
// result columns (other than the key) named and typed as a base column. ok
// is false when the base cannot serve: absent, itself narrow, or with a key
// that is not unique or not among the result columns.
func (e *Engine) narrowColumns(ctx context.Context, base *Base, cols []Column) (from []string, ok bool, err error) {
	m, err := ReadManifest(ctx, e.store, base.Ref)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil || m.Base != nil || len(m.Key) == 0 {
		return nil, false, err
	}
	have := map[string]Column{}
	for _, c := range cols {
		have[c.Name] = c
	}
	for _, k := range m.Key {
		bc, _ := m.Schema().Column(k)
		if c, ok := have[k]; !ok || c.Type != bc.Type || c.Scale != bc.Scale {
			return nil, false, nil
		}
	}
	if unique, err := e.KeyIsUnique(ctx, base.Ref); err != nil || !unique {
		return nil, false, err
	}
	for _, bc := range m.Columns {
		if c, ok := have[bc.Name]; ok && c.Type == bc.Type && c.Scale == bc.Scale && !slices.Contains(m.Key, bc.Name) &&
			slices.Contains(base.Columns, bc.Name) {
			from = append(from, bc.Name)
		}
	}
	return from, true, nil
}

// KeyIsUnique reports whether the key of the dataset at ref is unique and
// never null (checked once per engine and dataset: datasets are immutable;
// true for an empty one).
func (e *Engine) KeyIsUnique(ctx context.Context, ref Ref) (bool, error) {
	if v, ok := e.unique.Load(ref); ok {
		return v.(bool), nil
	}
	// Concurrent activities staging the same table (a run's snapshot of
	// a source) ask at once: one of them scans, the others wait for its
	// answer. A caller whose wait failed on another's error (a cancelled
	// context) scans itself.
	v, err, shared := e.probes.Do(string(ref), func() (any, error) { return e.keyIsUnique(ctx, ref) })
	if err != nil && shared && ctx.Err() == nil {
		return e.keyIsUnique(ctx, ref)
	}
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// uniqueScans counts the rows scans KeyIsUnique ran, orderedKeys the
// answers it read from keys in increasing order, recordedKeys those it read
// from a record (for tests).
var uniqueScans, orderedKeys, recordedKeys atomic.Int64

// keyIsUnique is KeyIsUnique without the wait for a concurrent probe.
func (e *Engine) keyIsUnique(ctx context.Context, ref Ref) (bool, error) {
	if v, ok := e.unique.Load(ref); ok {
		return v.(bool), nil
	}
	if e.store == nil {
		return false, errors.New("dataset: engine has no store")
	}
	m, err := ReadManifest(ctx, e.store, ref)
	if err != nil {
		return false, err
	}
	if len(m.Key) == 0 {
		return false, nil
	}
	if m.UniqueKey {
		e.unique.Store(ref, true)
		return true, nil
	}
	if unique, ok := readUniqueKey(ctx, e.store, ref); ok {
		recordedKeys.Add(1)
		e.unique.Store(ref, unique)
		return unique, nil
	}
	if len(m.Key) == 1 && (m.Base == nil || m.hasFiles()) && (m.Source == nil || m.Source.Format == FormatParquet) {
		// The key in the files, in order: increasing proves it unique. Only
		// strings and integers, which a source's projection casts one to one.
		if c, ok := m.Schema().Column(m.Key[0]); ok && (c.Type == campaign.TypeString || c.Type == campaign.TypeInteger) {
			paths, err := e.localPaths(ctx, ref, m)
			if err != nil {
				return false, err
			}
			if unique, decided, err := keysIncrease(paths, c); err != nil {
				return false, fmt.Errorf("dataset %s: %w", ref, err)
			} else if decided {
				orderedKeys.Add(1)
				e.recordUniqueKey(ctx, ref, unique)
				return unique, nil
			}
		}
	}
	m, from, err := e.open(ctx, ref, false)
	if err != nil {
		return false, err
	}
	if m.Base != nil && m.hasFiles() {
		// The key is in the files: no need for the base.
		paths, err := e.localPaths(ctx, ref, m)
		if err != nil {
			return false, err
		}
		from = "read_parquet([" + strings.Join(quoteAll(paths), ", ") + "])"
	}
	keys := make([]string, len(m.Key))
	notNull := make([]string, len(m.Key))
	for i, k := range m.Key {
		keys[i] = QuoteIdent(k)
		notNull[i] = QuoteIdent(k) + " IS NOT NULL"
	}
	row, err := e.QueryRow(ctx, "SELECT count(*) = count(DISTINCT ("+strings.Join(keys, ", ")+")) AND coalesce(bool_and("+
		strings.Join(notNull, " AND ")+"), true) FROM "+from)
	if err != nil {
		return false, fmt.Errorf("dataset %s: %w", ref, err)
	}
	uniqueScans.Add(1)
	unique, _ := row[0].(bool)
	e.recordUniqueKey(ctx, ref, unique)
	return unique, nil
}

// uniqueKeyName is the file beside a dataset's manifest that records what
// KeyIsUnique found. A dataset never changes, so the answer holds for every
// process that reads it: each Lambda of a run joining to the run's snapshot
// of a table reads this instead of the table's keys (at 10M purchases, a few
// seconds of CPU per function).
const uniqueKeyName = "key-unique.json"

type uniqueKey struct {
	Unique bool `json:"unique"`
}

// recordUniqueKey keeps the answer for this process and records it beside
// the manifest. Recording is best effort: without it the next process reads
// the keys again.
func (e *Engine) recordUniqueKey(ctx context.Context, ref Ref, unique bool) {
	e.unique.Store(ref, unique)
	b, _ := json.Marshal(uniqueKey{Unique: unique})
	e.store.PutIfAbsent(ctx, ref.Key(uniqueKeyName), bytes.NewReader(b))
}

// readUniqueKey reads the recorded answer, if any.
func readUniqueKey(ctx context.Context, store blob.Store, ref Ref) (unique, ok bool) {
	b, err := blob.ReadAll(ctx, store, ref.Key(uniqueKeyName))
	if err != nil {
		return false, false
	}
	var u uniqueKey
	if json.Unmarshal(b, &u) != nil {
		return false, false
	}
	return u.Unique, true
}

// narrowFrom returns the FROM item of a narrow dataset whose files are the
// quoted local paths: the files joined to the base on its key, in dataset
// order when ordered.
func (e *Engine) narrowFrom(ctx context.Context, m *Manifest, paths []string, ordered bool) (string, error) {
	bm, base, err := e.baseOf(ctx, m)
	if err != nil {
		return "", err
	}
	sel := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		sel[i] = narrowCol(m, c.Name)
	}
	list := "[" + strings.Join(paths, ", ") + "]"
	if !ordered {
		return "(SELECT " + strings.Join(sel, ", ") + " FROM read_parquet(" + list + ") AS n JOIN " +
			base + " AS b ON " + keyJoin(bm.Key) + ")", nil
	}
	return "(SELECT " + strings.Join(sel, ", ") + " FROM " + positioned(list) + " AS n JOIN " + base + " AS b ON " + keyJoin(bm.Key) +
		" ORDER BY n.__sw_file, n.__sw_pos)", nil
}

// positioned reads Parquet files with each row's position: file (index in
// list) and row number in the file.
func positioned(list string) string {
	return "(SELECT *, list_position(" + list + ", filename) AS __sw_file, file_row_number AS __sw_pos FROM read_parquet(" + list +
		", filename = true, file_row_number = true))"
}

// baseOf opens the base of a narrow dataset.
func (e *Engine) baseOf(ctx context.Context, m *Manifest) (*Manifest, string, error) {
	bm, from, err := e.open(ctx, m.Base.Ref, false)
	if err != nil {
		return nil, "", fmt.Errorf("base %s: %w", m.Base.Ref, err)
	}
	if bm.Base != nil || len(bm.Key) == 0 {
		return nil, "", fmt.Errorf("base %s is not a keyed wide dataset", m.Base.Ref)
	}
	return bm, from, nil
}

// narrowCol is column name of a narrow dataset, qualified by where it is
// read: b (the base) or n (the files).
func narrowCol(m *Manifest, name string) string {
	if slices.Contains(m.Base.Columns, name) {
		return "b." + QuoteIdent(name)
	}
	return "n." + QuoteIdent(name)
}

func keyJoin(key []string) string {
	on := make([]string, len(key))
	for i, k := range key {
		on[i] = "n." + QuoteIdent(k) + " = b." + QuoteIdent(k)
	}
	return strings.Join(on, " AND ")
}

// narrowWindow returns the query reading rows [off, off+n) of a narrow
// dataset in dataset order, with the columns sel (names); its parameters are
// n and off. Only the window's rows are joined to the base, and not at all
// when no column comes from it.
func (e *Engine) narrowWindow(ctx context.Context, m *Manifest, paths []string, sel []string) (string, error) {
	list := "[" + strings.Join(paths, ", ") + "]"
	window := "(SELECT * FROM " + positioned(list) + " LIMIT ? OFFSET ?) AS n"
	cols := make([]string, len(sel))
	join := false
	for i, c := range sel {
		cols[i] = narrowCol(m, c) + " AS " + QuoteIdent(c)
		join = join || slices.Contains(m.Base.Columns, c)
	}
	if !join {
		// The files alone, read in order as a wide dataset's are.
		return "SELECT " + strings.Join(cols, ", ") + " FROM read_parquet(" + list + ") AS n LIMIT ? OFFSET ?", nil
	}
	bm, base, err := e.baseOf(ctx, m)
	if err != nil {
		return "", err
	}
	return "SELECT " + strings.Join(cols, ", ") + " FROM " + window + " JOIN " + base + " AS b ON " + keyJoin(bm.Key) +
		" ORDER BY n.__sw_file, n.__sw_pos", nil
}

// sourceFrom returns the FROM item of a source snapshot whose files are at
// the local paths files.
func (e *Engine) sourceFrom(ctx context.Context, m *Manifest, name string, files []string) (string, error) {
	src := Source{Location: name, Columns: m.Columns}
	if m.Source.CSV != nil {
		src.CSV = *m.Source.CSV
	}
	from, err := readFunction(files, m.Source.Format, src)
	if err != nil {
		return "", err
	}
	names, _, err := e.probe(ctx, "SELECT * FROM "+from)
	if err != nil {
		return "", err
	}
	sel, _, err := declaredProjection(src, m.Source.Format, names)
	if err != nil {
		return "", fmt.Errorf("source %s: %w", name, err)
	}
	return "(SELECT " + sel + " FROM " + from + ")", nil
}

// Snapshot copies the files of a catalog table's source into the store at
// ref, unchanged, and returns the manifest that reads them with the table's
// columns (src.Columns, else those found in the files) and key. An existing
// snapshot is returned as it is: a run reads each source as it was when the
// run first read it, however the files change later.
func (e *Engine) Snapshot(ctx context.Context, ref Ref, src Source, dimension string, key []string) (*Manifest, error) {
	if m, err := ReadManifest(ctx, e.store, ref); err == nil {
		return m, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	files, format, err := e.sourceFiles(ctx, src)
	if err != nil {
		return nil, err
	}
	local := true
	if loc, err := blob.ParseURI(src.Location); err == nil && loc.Scheme == "s3" {
		local = false // downloaded to scratch: moved, not copied
	} else if files, err = expandLocal(files); err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Location, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("source %s: %w", src.Location, errNoFile)
	}
	var id [6]byte
	rand.Read(id[:])
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = fmt.Sprintf("src-%s-%04d%s", hex.EncodeToString(id[:]), i, filepath.Ext(f))
		if err := e.copyIn(ctx, ref.Key(names[i]), f, local); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", ref, err)
		}
	}
	m := &Manifest{Version: FormatVersion, Dimension: dimension, Key: slices.Clone(key), Files: names,
		Source: &SourceFormat{Format: format}, CreatedAt: time.Now().UTC()}
	if format == FormatCSV || format == FormatTSV {
		o := src.CSV
		m.Source.CSV = &o
	}
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := localFile(ctx, e.store, ref.Key(n), e.cache)
		if err != nil {
			return nil, err
		}
		paths[i] = p
	}
	// The columns: declared, else those of the files, as StageSource sees them.
	_, have, types, err := e.readSource(ctx, paths, format, src)
	if err != nil {
		return nil, err
	}
	if len(src.Columns) > 0 {
		if _, m.Columns, err = declaredProjection(src, format, have); err != nil {
			return nil, err
		}
	} else {
		_, m.Columns = projection(have, types)
	}
	from, err := e.sourceFrom(ctx, m, string(ref), paths)
	if err != nil {
		return nil, err
	}
	row, err := e.QueryRow(ctx, "SELECT count(*) FROM "+from)
	if err != nil {
		return nil, fmt.Errorf("source %s: %w", src.Location, err)
	}
	m.Rows, _ = row[0].(int64)
	err = e.store.PutIfAbsent(ctx, ref.ManifestKey(), strings.NewReader(string(m.encode())))
	if errors.Is(err, blob.ErrExists) {
		for _, n := range names {
			e.store.Delete(ctx, ref.Key(n))
		}
		return ReadManifest(ctx, e.store, ref)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// copyIn puts a local file into the store: copied when it is the user's,
// moved when it is a scratch download.
func (e *Engine) copyIn(ctx context.Context, key, file string, copy bool) error {
	if !copy {
		return e.putFile(ctx, key, file)
	}
	return upload(ctx, e.store, key, file)
}

// expandLocal turns sourceFiles' local patterns (a file, a glob, or a
// folder's dir/**/*.ext) into the files they match, sorted.
func expandLocal(patterns []string) ([]string, error) {
	var out []string
	for _, p := range patterns {
		dir, rest, deep := strings.Cut(p, string(filepath.Separator)+"**"+string(filepath.Separator))
		if !deep {
			m, err := filepath.Glob(p)
			if err != nil {
				return nil, err
			}
			out = append(out, m...)
			continue
		}
		err := filepath.WalkDir(dir, func(f string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ok, _ := filepath.Match(rest, d.Name()); ok && !d.IsDir() {
				out = append(out, f)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}
