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
	// Base, when set, makes the dataset narrow: the files hold the columns
	// not listed in Base.Columns, read from the base by key (see Base).
	Base *Base `json:"base,omitempty"`
	// Source, when set, makes the dataset a source snapshot: the files are a
	// source's own (see Snapshot).
	Source *SourceFormat `json:"source,omitempty"`
	// UniqueKey records that the writer vouched for the key being unique and
	// never null (see Output.UniqueKey): KeyIsUnique need not look.
	UniqueKey bool `json:"uniqueKey,omitempty"`
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
	if m.Version != FormatVersion {
		return fmt.Errorf("unsupported manifest version %d (want %d)", m.Version, FormatVersion)
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
