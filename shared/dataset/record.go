package dataset

import (
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
	if err := out.Ref.Check(); err != nil {
		return nil, err
	}
	if m, err := ReadManifest(ctx, store, out.Ref); err == nil {
		return m, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	files = slices.Sorted(slices.Values(files))
	m := &Manifest{Version: FormatVersion, Dimension: out.Dimension, Key: slices.Clone(out.Key), Columns: slices.Clone(cols),
		CreatedAt: out.CreatedAt.UTC(), UniqueKey: out.UniqueKey && len(out.Key) > 0}
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

// footerRows reads the row count of a Parquet object from its footer:
// ranged reads where the store has them, the file itself in a folder store.
func footerRows(ctx context.Context, store blob.Store, key string) (int64, error) {
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
	return pf.NumRows(), nil
}
