package dataset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
)

// Page is the first rows of a dataset.
type Page struct {
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Total is the dataset's row count.
	Total int64 `json:"total"`
}

// Preview returns the first limit rows of the dataset at ref, values
// normalized as by Query.
func (e *Engine) Preview(ctx context.Context, ref Ref, limit int) (*Page, error) {
	return e.Rows(ctx, ref, 0, limit)
}

// Rows returns limit rows of the dataset at ref from row offset (0-based, in
// dataset order): one page, read without the rows before or after it.
func (e *Engine) Rows(ctx context.Context, ref Ref, offset int64, limit int) (*Page, error) {
	p := &Page{Rows: [][]any{}}
	var m *Manifest
	var err error
	if limit <= 0 {
		m, err = ReadManifest(ctx, e.store, ref)
	} else {
		m, err = e.Stream(ctx, ref, StreamOptions{Offset: offset, Limit: int64(limit), BatchSize: limit}, func(b *Batch) error {
			p.Rows = append(p.Rows, b.Rows...)
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	p.Columns, p.Total = m.Columns, m.Rows
	return p, nil
}

// StreamOptions select the rows Stream reads.
type StreamOptions struct {
	// Columns to read, in this order; default all.
	Columns []string
	// Offset and Limit pick a slice of the rows in dataset order (Limit 0:
	// to the end), for example one Map iteration's part of a population.
	Offset, Limit int64
	// BatchSize is the number of rows per callback; default 1000.
	BatchSize int
}

// streamGo reads rows [off, end) of m's files in Go when the columns are
// stored in them (a narrow dataset's own columns) in plain types; done is
// false, with nothing read, otherwise.
func (e *Engine) streamGo(ctx context.Context, ref Ref, m *Manifest, names []string, off, end int64, size int, flush func(*Batch) error) (done bool, err error) {
	if m.Source != nil || !m.hasFiles() || off >= end {
		return false, nil
	}
	if len(names) == 0 {
		names = m.ColumnNames()
	}
	cols := make([]Column, len(names))
	for i, n := range names {
		j := slices.IndexFunc(m.Columns, func(c Column) bool { return c.Name == n })
		if j < 0 || m.Base != nil && slices.Contains(m.Base.Columns, n) {
			return false, nil
		}
		cols[i] = m.Columns[j]
	}
	paths, err := e.localPaths(ctx, ref, m)
	if err != nil {
		return false, err
	}
	files, conv, ok, err := openGo(paths, cols)
	if !ok || err != nil {
		return false, err
	}
	defer closeGo(files)
	goStreams.Add(1)
	return true, goStream(files, conv, off, end, size, flush)
}

// goStreams counts the streams read in Go (tests check the path is taken).
var goStreams atomic.Int64

// streamWindow is the number of rows Stream asks DuckDB for at a time; it
// bounds the memory a stream holds whatever the dataset size.
var streamWindow int64 = 100_000

// Stream passes the rows of the dataset at ref to fn in batches, in dataset
// order, and returns the dataset's manifest. Memory stays bounded: rows are
// read window by window (Parquet row groups outside a window are skipped),
// never all at once. Values are normalized as by Query. Stream stops at the
// first error fn returns.
func (e *Engine) Stream(ctx context.Context, ref Ref, opts StreamOptions, fn func(*Batch) error) (*Manifest, error) {
	if e.store == nil {
		return nil, errors.New("dataset: engine has no store")
	}
	m, err := ReadManifest(ctx, e.store, ref)
	if err != nil {
		return nil, err
	}
	sel := "*"
	if len(opts.Columns) > 0 {
		have := map[string]bool{}
		for _, c := range m.Columns {
			have[c.Name] = true
		}
		q := make([]string, len(opts.Columns))
		for i, c := range opts.Columns {
			if !have[c] {
				return nil, fmt.Errorf("dataset %s has no column %q", ref, c)
			}
			q[i] = QuoteIdent(c)
		}
		sel = strings.Join(q, ", ")
	}
	size := opts.BatchSize
	if size <= 0 {
		size = 1000
	}
	end := m.Rows
	if opts.Limit > 0 {
		end = min(end, opts.Offset+opts.Limit)
	}
	// Only the files holding rows [offset, end) are fetched and read (when
	// the manifest knows each file's rows): w's rows start at row skip.
	offset := max(opts.Offset, 0)
	w, skip := m.window(offset, end)
	from, err := e.openManifest(ctx, ref, w, false)
	if err != nil {
		return nil, err
	}
	offset, end = offset-skip, end-skip
	window := max(streamWindow, int64(size))
	// Batches span windows: a window's remainder is carried over.
	var pending *Batch
	flush := func(b *Batch) error {
		for len(b.Rows) > 0 {
			if pending == nil {
				pending = &Batch{Columns: b.Columns, Rows: make([][]any, 0, size)}
			}
			n := min(size-len(pending.Rows), len(b.Rows))
			pending.Rows = append(pending.Rows, b.Rows[:n]...)
			b.Rows = b.Rows[n:]
			if len(pending.Rows) == size {
				full := pending
				pending = nil
				if err := fn(full); err != nil {
					return err
				}
			}
		}
		return nil
	}
	done, err := e.streamGo(ctx, ref, w, opts.Columns, offset, end, size, flush)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", ref, err)
	}
	if !done {
		query := "SELECT " + sel + " FROM " + from + " LIMIT ? OFFSET ?"
		if m.Base != nil && m.hasFiles() {
			// A narrow dataset: the window's rows are read in order, then joined.
			paths, err := e.localPaths(ctx, ref, w)
			if err != nil {
				return nil, err
			}
			names := opts.Columns
			if len(names) == 0 {
				names = m.ColumnNames()
			}
			if query, err = e.narrowWindow(ctx, w, quoteAll(paths), names); err != nil {
				return nil, fmt.Errorf("dataset %s: %w", ref, err)
			}
		}
		for off := offset; off < end; off += window {
			n := min(window, end-off)
			if err := e.Query(ctx, size, flush, query, n, off); err != nil {
				return nil, fmt.Errorf("dataset %s: %w", ref, err)
			}
		}
	}
	if pending != nil && len(pending.Rows) > 0 {
		if err := fn(pending); err != nil {
			return nil, err
		}
	}
	return m, nil
}
