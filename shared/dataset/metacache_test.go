package dataset_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// The engine keeps Parquet footers between statements (datasets are
// immutable files), and still reads a file rewritten in place (a catalog
// source a user replaced) anew.
func TestParquetMetadataCache(t *testing.T) {
	e := engine(t, folder(t))
	row, err := e.QueryRow(ctx, "SELECT current_setting('parquet_metadata_cache')")
	if err != nil || len(row) != 1 || row[0] != true {
		t.Fatalf("parquet_metadata_cache = %v (%v), want true", row, err)
	}
	path := filepath.Join(t.TempDir(), "source.parquet")
	p := dataset.QuoteLiteral(path)
	if err := e.Exec(ctx, "COPY (SELECT 1 AS a, 'x' AS b) TO "+p+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	// An old file: DuckDB does not cache the footer of one modified seconds ago.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
	if row, err := e.QueryRow(ctx, "SELECT count(*), max(a) FROM read_parquet("+p+")"); err != nil || row[0] != int64(1) || row[1] != int64(1) {
		t.Fatalf("first read: %v (%v)", row, err)
	}
	if err := e.Exec(ctx, "COPY (SELECT range AS a FROM range(5)) TO "+p+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if row, err := e.QueryRow(ctx, "SELECT count(*), max(a) FROM read_parquet("+p+")"); err != nil || row[0] != int64(5) || row[1] != int64(4) {
		t.Fatalf("read after the rewrite: %v (%v), want 5 rows up to 4", row, err)
	}
}
