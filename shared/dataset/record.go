package dataset

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// RecordFiles makes the Parquet files another engine wrote under out.Ref
// (Athena's UNLOAD) a dataset: a manifest listing them, with their exact
// row count read from each file's footer (no row is read). cols are the
// dataset's columns as the compiler derived them; files are relative to the
// ref. If a dataset already exists at out.Ref, it is returned as it is.
func RecordFiles(ctx context.Context, store blob.Store, out Output, cols []Column, files []string) (*Manifest, error) {
	if m, err := recorded(ctx, store, out); m != nil || err != nil {
		return m, err
	}
	files = slices.Sorted(slices.Values(files))
	m := newRecord(out, cols)
	for _, f := range files {
		n, err := footerRows(ctx, store, out.Ref.Key(f))
		if err != nil {
			return nil, fmt.Errorf("dataset %s: file %s: %w", out.Ref, f, err)
		}
		if n > 0 {
			m.Files = append(m.Files, f)
			m.Rows += n
		}
	}
	return putRecord(ctx, store, out, m)
}

// footerRows reads the row count of a Parquet object from its footer:
// ranged reads where the store has them, the file itself in a folder store.
func footerRows(ctx context.Context, store blob.Store, key string) (int64, error) {
	return footer(ctx, store, key, nil)
}

// footer reads a Parquet object's footer: its row count, and fn (nil:
// none) sees the file while it is open.
func footer(ctx context.Context, store blob.Store, key string, fn func(*parquet.File) error) (int64, error) {
	info, err := store.Stat(ctx, key)
	if err != nil {
		return 0, err
	}
	var r io.ReaderAt
	switch s := store.(type) {
	case blob.FileStore:
		p, err := s.FilePath(key)
		if err != nil {
			return 0, err
		}
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		r = f
	case RangeReader:
		r = &rangeFile{ctx: ctx, r: s, key: key, size: info.Size}
	default:
		return 0, fmt.Errorf("store %T reads no ranges", store)
	}
	pf, err := parquet.OpenFile(r, info.Size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, err
	}
	if fn != nil {
		if err := fn(pf); err != nil {
			return 0, err
		}
	}
	return pf.NumRows(), nil
}

// RecordFilesByRange is RecordFiles for files that each hold a contiguous
// range of an integer column numbering the rows from 0 (a row number, each
// file sorted by it: an UNLOAD ... ORDER BY): the files are listed in the
// order of their ranges, so that the dataset's order is the column's and a
// reader of rows [a, b) opens only the files holding them. The ranges come
// from the footers' statistics; files whose ranges do not tile 0..rows-1
// exactly (overlapping, gapped, or without statistics) are an error.
func RecordFilesByRange(ctx context.Context, store blob.Store, out Output, cols []Column, files []string, col string) (*Manifest, error) {
	if m, err := recorded(ctx, store, out); m != nil || err != nil {
		return m, err
	}
	type span struct {
		file        string
		lo, hi, num int64
	}
	var spans []span
	for _, f := range files {
		sp := span{file: f, lo: -1}
		n, err := footer(ctx, store, out.Ref.Key(f), func(pf *parquet.File) error {
			leaf, ok := pf.Schema().Lookup(col)
			if !ok {
				return fmt.Errorf("no column %s", col)
			}
			for _, rg := range pf.RowGroups() {
				if rg.NumRows() == 0 {
					continue
				}
				cc, ok := rg.ColumnChunks()[leaf.ColumnIndex].(*parquet.FileColumnChunk)
				if !ok {
					return fmt.Errorf("column %s: not a file's chunk", col)
				}
				lo, hi, ok := cc.Bounds()
				if !ok || lo.IsNull() || hi.IsNull() {
					return fmt.Errorf("column %s has no statistics", col)
				}
				if sp.lo < 0 || lo.Int64() < sp.lo {
					sp.lo = lo.Int64()
				}
				sp.hi = max(sp.hi, hi.Int64())
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dataset %s: file %s: %w", out.Ref, f, err)
		}
		if sp.num = n; n > 0 {
			spans = append(spans, sp)
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	m := newRecord(out, cols)
	for _, sp := range spans {
		if sp.lo != m.Rows || sp.hi-sp.lo+1 != sp.num {
			return nil, fmt.Errorf("dataset %s: file %s holds %s %d..%d in %d rows, expected from %d: the files do not tile the rows", out.Ref, sp.file, col, sp.lo, sp.hi, sp.num, m.Rows)
		}
		m.Files = append(m.Files, sp.file)
		m.FileRows = append(m.FileRows, sp.num)
		m.Rows += sp.num
	}
	return putRecord(ctx, store, out, m)
}

// recorded is the manifest of out.Ref when it is recorded already (a
// retried record), nil when not.
func recorded(ctx context.Context, store blob.Store, out Output) (*Manifest, error) {
	if err := out.Ref.Check(); err != nil {
		return nil, err
	}
	m, err := ReadManifest(ctx, store, out.Ref)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return m, err
}

// newRecord is the manifest of a recorded dataset before its files.
func newRecord(out Output, cols []Column) *Manifest {
	return &Manifest{Version: FormatVersion, Dimension: out.Dimension, Key: slices.Clone(out.Key), Columns: slices.Clone(cols),
		CreatedAt: out.CreatedAt.UTC(), UniqueKey: out.UniqueKey && len(out.Key) > 0}
}

// putRecord checks m and stores it as out.Ref's manifest, unless a
// concurrent record finished first: then theirs is the dataset.
func putRecord(ctx context.Context, store blob.Store, out Output, m *Manifest) (*Manifest, error) {
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	err := store.PutIfAbsent(ctx, out.Ref.ManifestKey(), strings.NewReader(string(m.encode())))
	if errors.Is(err, blob.ErrExists) {
		return ReadManifest(ctx, store, out.Ref)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	return m, nil
}
