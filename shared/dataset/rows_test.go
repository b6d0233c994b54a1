package dataset_test

import (
	"database/sql/driver"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Both WriteRows paths (Parquet from Go, DuckDB's appender) store the same
// rows with the same columns, in order, nulls included.
func TestWriteRowsPathsAgree(t *testing.T) {
	cols := []dataset.Column{
		{Name: "row", Type: campaign.TypeInteger}, {Name: "status", Type: campaign.TypeString},
		{Name: "score", Type: campaign.TypeNumber}, {Name: "ok", Type: campaign.TypeBoolean},
		{Name: "day", Type: campaign.TypeDate}, {Name: "at", Type: campaign.TypeTimestamp},
		{Name: "Zeta", Type: campaign.TypeString},
	}
	at := time.Date(2026, 12, 1, 9, 30, 15, 123456000, time.UTC)
	row := func(i int, dst []driver.Value) {
		dst[0], dst[1] = int64(i), []string{"sent", "skipped", "é – ok"}[i%3]
		if i%4 != 0 {
			dst[2], dst[3], dst[4], dst[5] = float64(i)/4, i%2 == 0, at.AddDate(0, 0, -i), at.Add(time.Duration(i)*time.Second)
		}
		if i%5 == 0 {
			dst[6] = "z"
		}
	}
	e := engine(t, folder(t))
	read := func(ref dataset.Ref) ([]dataset.Column, [][]any) {
		var out [][]any
		m, err := e.Stream(ctx, ref, dataset.StreamOptions{}, func(b *dataset.Batch) error {
			out = append(out, b.Rows...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return m.Columns, out
	}
	streamed := dataset.GoStreams()
	goCols, goRows := func() ([]dataset.Column, [][]any) {
		if _, err := e.WriteRows(ctx, dataset.Output{Ref: "runs/r/go/p"}, cols, 2500, row, ""); err != nil {
			t.Fatal(err)
		}
		return read("runs/r/go/p")
	}()
	restore := dataset.SetGoRows(false)
	defer restore()
	if _, err := e.WriteRows(ctx, dataset.Output{Ref: "runs/r/duck/p"}, cols, 2500, row, ""); err != nil {
		t.Fatal(err)
	}
	duckCols, duckRows := read("runs/r/duck/p")
	if n := dataset.GoStreams() - streamed; n != 2 {
		t.Fatalf("%d of the 2 reads took Stream's Go reader", n)
	}
	if !reflect.DeepEqual(goCols, duckCols) {
		t.Fatalf("columns: go %v, appender %v", goCols, duckCols)
	}
	if len(goRows) != 2500 || !reflect.DeepEqual(goRows, duckRows) {
		t.Fatalf("rows differ: go %v…, appender %v…", goRows[:2], duckRows[:2])
	}
	// Both files read the same through DuckDB as through Stream's Go reader.
	restoreStream := dataset.SetGoStream(false)
	for _, ref := range []dataset.Ref{"runs/r/go/p", "runs/r/duck/p"} {
		if _, rows := read(ref); !reflect.DeepEqual(rows, goRows) {
			t.Fatalf("%s read by DuckDB differs: %v…", ref, rows[:2])
		}
	}
	restoreStream()
	// A staged view has the manifest's column order, not the file's.
	if _, err := e.StageDataset(ctx, "go_rows", "runs/r/go/p"); err != nil {
		t.Fatal(err)
	}
	got, err := e.Columns(ctx, "SELECT * FROM go_rows")
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Name != "row" || got[6].Name != "Zeta" {
		t.Fatalf("staged column order %v", got)
	}
}

// go test ./shared/dataset -run '^$' -bench WriteRows -benchmem
// 100k rows shaped like a channel slice's outcomes.
func BenchmarkWriteRows100k(b *testing.B) {
	cols := []dataset.Column{
		{Name: "_sw_row", Type: campaign.TypeInteger}, {Name: "status", Type: campaign.TypeString},
		{Name: "messageId", Type: campaign.TypeString}, {Name: "variant", Type: campaign.TypeString},
		{Name: "reason", Type: campaign.TypeString}, {Name: "recipient", Type: campaign.TypeString},
		{Name: "address", Type: campaign.TypeString}, {Name: "token", Type: campaign.TypeString},
		{Name: "sentAt", Type: campaign.TypeTimestamp},
	}
	e := engine(b, folder(b))
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%07d", i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, err := e.WriteRows(ctx, dataset.Output{Ref: dataset.Ref(fmt.Sprintf("runs/r/a/p%d", i))}, cols, n, func(j int, dst []driver.Value) {
			dst[0], dst[1], dst[2], dst[3] = int64(j), "sent", "test-"+ids[j], nil
			dst[5], dst[6], dst[7], dst[8] = ids[j], ids[j]+"@example.com", "tok-0123456789abcdef-"+ids[j], at
		}, "")
		if err != nil {
			b.Fatal(err)
		}
	}
}
