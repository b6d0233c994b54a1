// Package dataset holds the populations that flow between campaign
// activities: Parquet files plus a JSON manifest in a blob store, and the
// DuckDB engine that reads, transforms and writes them. It is the only package
// that links DuckDB.
//
// A dataset lives under a Ref (a blob key prefix). Its manifest is written
// last and only if absent, so a dataset is visible exactly when it is
// complete, and a retried writer never replaces a finished dataset. Part files
// are named by the hash of their content, so rewriting them is harmless.
package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// PartsVersion is the manifest format of a managed table version written in
// parts (Manifest.Parts). Its own number makes an older reader refuse it
// rather than read no rows.
const PartsVersion = 2

// ManifestName is the manifest's file name under a dataset's ref.
const ManifestName = "manifest.json"

// ErrNotFound: no complete dataset (no manifest) under the ref.
var ErrNotFound = fmt.Errorf("dataset not found: %w", blob.ErrNotFound)

// Ref locates a dataset: the blob key prefix under which its manifest and
// files live, such as runs/<run>/<activity>/<port>.
type Ref string

// PortRef is the ref of the population on an activity's output port.
func PortRef(run, activity, port string) Ref {
	return Ref(blob.Join("runs", run, activity, port))
}

// ManifestKey is the blob key of the dataset's manifest.
func (r Ref) ManifestKey() string { return blob.Join(string(r), ManifestName) }

// Key is the blob key of a file of the dataset (a Manifest.Files entry).
func (r Ref) Key(file string) string { return blob.Join(string(r), file) }

// Check reports whether r can hold a dataset.
func (r Ref) Check() error {
	if err := blob.CheckKey(string(r)); err != nil {
		return fmt.Errorf("dataset ref %q: %w", r, err)
	}
	return nil
}

// Manifest describes a complete dataset.
type Manifest struct {
	Version int `json:"version"`
	// Dimension is the catalog table the rows belong to, or "" for file rows.
	Dimension string `json:"dimension"`
	// Key lists the columns that identify a row (the dimension's key).
	Key     []string `json:"key,omitempty"`
	Columns []Column `json:"columns"`
	Rows    int64    `json:"rows"`
	// Files are Parquet files relative to the ref, in row order.
	Files     []string  `json:"files"`
	CreatedAt time.Time `json:"createdAt"`
	// FileRows, when set, are the row counts of Files, one each: a reader of
	// a window of rows fetches only the files holding it.
	FileRows []int64 `json:"fileRows,omitempty"`
	// Base, when set, makes the dataset narrow: the files hold the columns
	// not listed in Base.Columns, read from the base by key (see Base).
	Base *Base `json:"base,omitempty"`
	// Source, when set, makes the dataset a source snapshot: the files are a
	// source's own (see Snapshot).
	Source *SourceFormat `json:"source,omitempty"`
	// UniqueKey records that the writer vouched for the key being unique and
	// never null (see Output.UniqueKey): KeyIsUnique need not look.
	UniqueKey bool `json:"uniqueKey,omitempty"`
	// Parts, when set (format PartsVersion; Files is then empty), list the
	// files of a managed table version in row order, each under the version
	// that wrote it: an append writes its new rows' part and lists the
	// earlier versions' parts too (files are immutable, so sharing them is
	// safe).
	Parts []Part `json:"parts,omitempty"`
}

// Part is a file of a managed table version written in parts.
type Part struct {
	// File is the Parquet file's key relative to the table's folder (the
	// parent of the version's ref): "<version>/<file>".
	File string `json:"file"`
	// Keys, when set, is the part's key index (relative like File): the
	// sorted hashes of its rows' keys, read by the table's writer.
	Keys  string `json:"keys,omitempty"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// PartKey is the blob key of a file of a part (Part.File or Part.Keys) of
// the table version at ref.
func (r Ref) PartKey(rel string) string { return blob.Join(path.Dir(string(r)), rel) }

// PartFile names a file written by the version at ref, relative to the
// table's folder (for Part.File and Part.Keys).
func (r Ref) PartFile(name string) string { return path.Base(string(r)) + "/" + name }

// FileKeys lists the blob keys of the dataset's data files in row order.
func (m *Manifest) FileKeys(ref Ref) []string {
	if len(m.Parts) > 0 {
		out := make([]string, len(m.Parts))
		for i, p := range m.Parts {
			out[i] = ref.PartKey(p.File)
		}
		return out
	}
	out := make([]string, len(m.Files))
	for i, f := range m.Files {
		out[i] = ref.Key(f)
	}
	return out
}

// fileRows returns the row counts of the data files in row order, or nil
// when the manifest does not record them.
func (m *Manifest) fileRows() []int64 {
	if len(m.Parts) > 0 {
		out := make([]int64, len(m.Parts))
		for i, p := range m.Parts {
			out[i] = p.Rows
		}
		return out
	}
	return m.FileRows
}

// window returns a manifest of only the files holding rows [off, end) and
// the row number its first row has in m; m itself, at 0, when the file row
// counts are unknown, the files hold no row of their own (narrow or source
// datasets) or the window is empty.
func (m *Manifest) window(off, end int64) (*Manifest, int64) {
	rows := m.fileRows()
	if rows == nil || m.Base != nil || m.Source != nil || off >= end {
		return m, 0
	}
	first, last, start, skip := -1, -1, int64(0), int64(0)
	for i, n := range rows {
		if n > 0 && start+n > off && start < end {
			if first < 0 {
				first, skip = i, start
			}
			last = i
		}
		start += n
	}
	if first < 0 {
		return m, 0
	}
	w := *m
	w.Rows = 0
	for _, n := range rows[first : last+1] {
		w.Rows += n
	}
	if len(m.Parts) > 0 {
		w.Parts = m.Parts[first : last+1]
	} else {
		w.Files, w.FileRows = m.Files[first:last+1], m.FileRows[first:last+1]
	}
	return &w, skip
}

// hasFiles reports whether the dataset has data files.
func (m *Manifest) hasFiles() bool { return len(m.Files) > 0 || len(m.Parts) > 0 }

// checkPartFile checks a Part file name: "<version>/<file>", two plain names.
func checkPartFile(rel string) error {
	v, f, ok := strings.Cut(rel, "/")
	if !ok || strings.Contains(f, "/") || v == "" || f == "" || v == "." || v == ".." || f == "." || f == ".." || blob.CheckKey(rel) != nil {
		return fmt.Errorf("invalid part file %q: want <version>/<file>", rel)
	}
	return nil
}

// Schema returns the dataset's dimension and columns.
func (m *Manifest) Schema() campaign.Schema {
	return campaign.Schema{Dimension: m.Dimension, Columns: append([]Column(nil), m.Columns...)}
}

// ColumnNames lists the column names in order.
func (m *Manifest) ColumnNames() []string {
	out := make([]string, len(m.Columns))
	for i, c := range m.Columns {
		out[i] = c.Name
	}
	return out
}

func (m *Manifest) check() error {
	switch {
	case m.Version == FormatVersion && len(m.Parts) == 0:
	case m.Version == PartsVersion && len(m.Parts) > 0:
		if len(m.Files) > 0 || m.Base != nil || m.Source != nil {
			return errors.New("a manifest with parts has no files, base or source")
		}
		rows := int64(0)
		for _, p := range m.Parts {
			if err := checkPartFile(p.File); err != nil {
				return err
			}
			if p.Keys != "" {
				if err := checkPartFile(p.Keys); err != nil {
					return err
				}
			}
			if p.Rows < 0 || p.Bytes < 0 {
				return fmt.Errorf("part %q: negative rows or bytes", p.File)
			}
			rows += p.Rows
		}
		if rows != m.Rows {
			return fmt.Errorf("the parts hold %d rows, the manifest says %d", rows, m.Rows)
		}
	default:
		return fmt.Errorf("unsupported manifest version %d (want %d, or %d with parts)", m.Version, FormatVersion, PartsVersion)
	}
	if len(m.FileRows) > 0 {
		if len(m.FileRows) != len(m.Files) {
			return fmt.Errorf("fileRows lists %d counts for %d files", len(m.FileRows), len(m.Files))
		}
		rows := int64(0)
		for i, n := range m.FileRows {
			if n < 0 {
				return fmt.Errorf("file %q: negative rows", m.Files[i])
			}
			rows += n
		}
		if rows != m.Rows {
			return fmt.Errorf("the files hold %d rows, the manifest says %d", rows, m.Rows)
		}
	}
	for _, f := range m.Files {
		if blob.CheckKey(f) != nil || strings.HasPrefix(path.Clean(f), "..") {
			return fmt.Errorf("invalid file %q", f)
		}
	}
	for _, c := range m.Columns {
		if _, err := DuckDBType(c); err != nil {
			return err
		}
	}
	if m.Base != nil {
		if err := m.Base.Ref.Check(); err != nil {
			return fmt.Errorf("base: %w", err)
		}
		for _, n := range m.Base.Columns {
			if _, ok := m.Schema().Column(n); !ok {
				return fmt.Errorf("base column %q is not a column", n)
			}
		}
	}
	return nil
}

// ReadManifest reads the manifest of the dataset at ref; ErrNotFound when the
// dataset is absent or incomplete.
func ReadManifest(ctx context.Context, store blob.Store, ref Ref) (*Manifest, error) {
	b, err := blob.ReadAll(ctx, store, ref.ManifestKey())
	if errors.Is(err, blob.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", ref, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("dataset %s: manifest: %w", ref, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("dataset %s: manifest: %w", ref, err)
	}
	return &m, nil
}

// encode returns the manifest's canonical bytes.
func (m *Manifest) encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.Encode(m) // a Manifest always encodes
	return buf.Bytes()
}
