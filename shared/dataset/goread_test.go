package dataset_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Stream reads plain columns in Go: the same values, in the same order, as
// the DuckDB path, whole or windowed across row groups, wide or narrow.
func TestStreamPathsAgree(t *testing.T) {
	e := engine(t, folder(t))
	const n = 300_000 // three row groups of DuckDB's 122,880 rows
	query := fmt.Sprintf(`SELECT 'k' || lpad(CAST(i AS VARCHAR), 6, '0') AS id,
		CASE WHEN i %% 11 = 0 THEN NULL WHEN i %% 13 = 0 THEN '' ELSE 'námé ' || i END AS name,
		CASE WHEN i %% 17 = 0 THEN NULL ELSE i * 3 - 500000 END AS points,
		CASE WHEN i %% 19 = 0 THEN NULL ELSE i / 7.0 END AS ratio,
		CASE WHEN i %% 23 = 0 THEN NULL ELSE i %% 2 = 0 END AS flag,
		CASE WHEN i %% 29 = 0 THEN NULL ELSE DATE '1969-12-25' + CAST(i %% 4000 AS INTEGER) END AS born,
		CASE WHEN i %% 31 = 0 THEN NULL ELSE TIMESTAMPTZ '1969-12-31 23:00:00+00' + to_microseconds(i * 1234567) END AS seen,
		CASE WHEN i %% 37 = 0 THEN NULL ELSE CAST((i - 150000) / 100.0 AS DECIMAL(18,2)) END AS amount,
		CAST(i %% 1000 / 8.0 AS DECIMAL(9,3)) AS small
		FROM range(%d) AS r(i) ORDER BY i`, n)
	if _, err := e.Write(ctx, dataset.Output{Ref: "runs/r/all/out", Dimension: "people", Key: []string{"id"}, CreatedAt: created}, query); err != nil {
		t.Fatal(err)
	}
	base := dataset.Ref("runs/r/all/out")
	if _, err := e.StageDataset(ctx, "everyone", base); err != nil {
		t.Fatal(err)
	}
	narrow, err := e.Write(ctx, dataset.Output{Ref: "runs/r/narrow/out", Dimension: "people", Key: []string{"id"}, CreatedAt: created,
		Base: &dataset.Base{Ref: base, Columns: []string{"name", "points", "ratio", "flag", "born", "seen", "amount", "small"}}},
		"SELECT id, name, seen, points * 2 AS doubled FROM everyone WHERE flag ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if narrow.Base == nil {
		t.Fatal("the narrow dataset was written wide")
	}
	read := func(ref dataset.Ref, o dataset.StreamOptions) (cols []dataset.Column, rows [][]any) {
		t.Helper()
		_, err := e.Stream(ctx, ref, o, func(b *dataset.Batch) error {
			if len(b.Rows) > o.BatchSize {
				t.Fatalf("batch of %d rows, asked %d", len(b.Rows), o.BatchSize)
			}
			cols, rows = b.Columns, append(rows, b.Rows...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return cols, rows
	}
	cases := []struct {
		ref  dataset.Ref
		opts dataset.StreamOptions
		goes bool
	}{
		{base, dataset.StreamOptions{BatchSize: 1000}, true},
		{base, dataset.StreamOptions{Offset: 122_000, Limit: 2_000, BatchSize: 333}, true},
		{base, dataset.StreamOptions{Offset: 5, Limit: 260_000, Columns: []string{"small", "id", "seen"}, BatchSize: 4096}, true},
		{base, dataset.StreamOptions{Offset: 299_990, Limit: 50, BatchSize: 3}, true},
		{"runs/r/narrow/out", dataset.StreamOptions{Offset: 60_000, Limit: 70_000, Columns: []string{"doubled", "id"}, BatchSize: 512}, true},
		// A base column needs the join: DuckDB reads.
		{"runs/r/narrow/out", dataset.StreamOptions{Offset: 60_000, Limit: 70_000, Columns: []string{"id", "seen"}, BatchSize: 512}, false},
	}
	for i, c := range cases {
		before := dataset.GoStreams()
		gc, gr := read(c.ref, c.opts)
		if went := dataset.GoStreams() > before; went != c.goes {
			t.Errorf("case %d: read in Go = %v, want %v", i, went, c.goes)
		}
		restore := dataset.SetGoStream(false)
		dc, dr := read(c.ref, c.opts)
		restore()
		if !reflect.DeepEqual(gc, dc) {
			t.Errorf("case %d: columns %v, DuckDB %v", i, gc, dc)
		}
		if len(gr) != len(dr) || len(gr) == 0 {
			t.Fatalf("case %d: %d rows, DuckDB %d", i, len(gr), len(dr))
		}
		for j := range gr {
			if !reflect.DeepEqual(gr[j], dr[j]) {
				t.Fatalf("case %d row %d:\n go     %#v\n duckdb %#v", i, j, gr[j], dr[j])
			}
		}
	}
}
