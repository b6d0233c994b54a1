package athenalocal_test

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/stepwise-run/stepwise/shared/api/preview"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// fullPreview is how many rows a dataset may hold for its whole preview to
// be compared (above it, the first page only).
const fullPreview = 20000

// previewer opens the API's previewer over a run home's store.
func previewer(t *testing.T, home string) *preview.Previewer {
	t.Helper()
	p := &preview.Previewer{Options: dataset.Options{Store: homeStore(t, home), WorkDir: t.TempDir(), Threads: 1}}
	t.Cleanup(func() { p.Close() })
	return p
}

// samePreview compares the preview of a transition in two homes, as the
// console shows it: the columns with their types, the total, and the rows
// (as a multiset: an Athena UNLOAD's files need not keep DuckDB's order;
// every row when the total is at most fullPreview, else a full first page).
func samePreview(t *testing.T, duck, ath *preview.Previewer, ref string) {
	t.Helper()
	ctx := context.Background()
	d, err := duck.Preview(ctx, ref, 0, fullPreview)
	if err != nil {
		t.Errorf("preview %s on duckdb: %v", ref, err)
		return
	}
	a, err := ath.Preview(ctx, ref, 0, fullPreview)
	if err != nil {
		t.Errorf("preview %s on athena: %v", ref, err)
		return
	}
	if !reflect.DeepEqual(d.Columns, a.Columns) || d.Total != a.Total {
		t.Errorf("preview %s: duckdb %v columns, %d rows; athena %v, %d", ref, d.Columns, d.Total, a.Columns, a.Total)
		return
	}
	if len(a.Rows) != min(int(a.Total), fullPreview) {
		t.Errorf("preview %s on athena: %d rows on the page, total %d", ref, len(a.Rows), a.Total)
	}
	if d.Total > fullPreview {
		return
	}
	if dr, ar := rowSet(t, d.Rows), rowSet(t, a.Rows); !slices.Equal(dr, ar) {
		t.Errorf("preview %s: the rows differ across engines (%d rows)", ref, len(dr))
	}
}

// rowSet is rows as sorted JSON texts.
func rowSet(t *testing.T, rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(b)
	}
	slices.Sort(out)
	return out
}
