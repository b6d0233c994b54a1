package dataset

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// WritePart runs query and stores its result, in the query's row order, as
// a Parquet part file of the table version at ref (named by its content),
// with the columns cols (types normalized to the canonical DuckDB type). The
// part is listed by no manifest yet: see CommitParts.
func (e *Engine) WritePart(ctx context.Context, ref Ref, cols []Column, query string, args ...any) (Part, error) {
	if err := ref.Check(); err != nil {
		return Part{}, err
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		t, err := DuckDBType(c)
		if err != nil {
			return Part{}, fmt.Errorf("dataset %s: %w", ref, err)
		}
		sel[i] = "CAST(" + QuoteIdent(c.Name) + " AS " + t + ") AS " + QuoteIdent(c.Name)
	}
	local := e.scratch("part") + ".parquet"
	defer os.Remove(local)
	res, err := e.db.ExecContext(ctx, "COPY (SELECT "+strings.Join(sel, ", ")+" FROM ("+trimQuery(query)+"\n) AS q) TO "+
		QuoteLiteral(local)+" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)", args...)
	if err != nil {
		return Part{}, fmt.Errorf("dataset %s: %w", ref, engineErr(ctx, "write", err))
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return Part{}, err
	}
	name, err := contentName(local)
	if err != nil {
		return Part{}, err
	}
	fi, err := os.Stat(local)
	if err != nil {
		return Part{}, err
	}
	if err := os.Chmod(local, 0o600); err != nil {
		return Part{}, err
	}
	if err := e.putFile(ctx, ref.Key(name), local); err != nil {
		return Part{}, fmt.Errorf("dataset %s: %w", ref, err)
	}
	if _, ok := e.store.(blob.FileStore); !ok {
		// Keep the file as the local copy, for compactions on this engine.
		dst := filepath.Join(e.cache, filepath.FromSlash(ref.Key(name)))
		if os.MkdirAll(filepath.Dir(dst), 0o700) == nil {
			os.Rename(local, dst)
		}
	}
	return Part{File: ref.PartFile(name), Rows: rows, Bytes: fi.Size()}, nil
}

// CommitParts writes the manifest of the table version at ref listing parts
// (written beforehand, here or by earlier versions of the table), if ref has
// none yet. Committing the version to the table's log is the caller's
// business.
func (e *Engine) CommitParts(ctx context.Context, ref Ref, table string, key []string, cols []Column, parts []Part, created time.Time) (*Manifest, error) {
	if len(parts) == 0 {
		return nil, fmt.Errorf("dataset %s: a version in parts needs a part", ref)
	}
	m := &Manifest{Version: PartsVersion, Dimension: table, Key: slices.Clone(key), Columns: slices.Clone(cols),
		Files: []string{}, CreatedAt: created.UTC(), Parts: slices.Clone(parts)}
	for _, p := range parts {
		m.Rows += p.Rows
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", ref, err)
	}
	err := e.store.PutIfAbsent(ctx, ref.ManifestKey(), strings.NewReader(string(m.encode())))
	if errors.Is(err, blob.ErrExists) {
		return nil, fmt.Errorf("dataset %s: %w", ref, err)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", ref, err)
	}
	return m, nil
}

// LocalFile makes the blob at key local (downloaded once into the engine's
// cache; a folder store's own file) and returns its path. For immutable
// blobs only: a cached copy is never refreshed.
func (e *Engine) LocalFile(ctx context.Context, key string) (string, error) {
	return localFile(ctx, e.store, key, e.cache)
}

// PutFile stores a local file at key (moved when the store can take it).
func (e *Engine) PutFile(ctx context.Context, key, local string) error {
	if err := os.Chmod(local, 0o600); err != nil {
		return err
	}
	return e.putFile(ctx, key, local)
}

// ScratchFile returns a new unique path in the engine's scratch folder.
func (e *Engine) ScratchFile(suffix string) string {
	return filepath.Clean(e.scratch("file") + suffix)
}
