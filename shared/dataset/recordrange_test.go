package dataset_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Files that each hold a range of row numbers are listed in the order of
// their ranges (from the footers), so that the dataset reads in row
// order; ranges that do not tile the rows are refused.
func TestRecordFilesByRange(t *testing.T) {
	store := folder(t)
	e := engine(t, store)
	write := func(ref, name string, lo, hi int) {
		p := filepath.Join(t.TempDir(), "f.parquet")
		// A row group of 10 rows: the bounds come from several groups.
		q := "COPY (SELECT i AS n, 'r' || i AS s FROM range(" + itoa(lo) + ", " + itoa(hi+1) + ") AS t(i) ORDER BY n) TO '" + p + "' (FORMAT parquet, ROW_GROUP_SIZE 10)"
		if err := e.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := store.Put(ctx, ref+"/athena/"+name, f); err != nil {
			t.Fatal(err)
		}
	}
	cols := []campaign.Column{{Name: "n", Type: campaign.TypeInteger}, {Name: "s", Type: campaign.TypeString}}
	out := func(ref string) dataset.Output {
		return dataset.Output{Ref: dataset.Ref(ref), CreatedAt: time.Unix(0, 0)}
	}
	// Named against their order: a name sort would read 40.. first.
	write("runs/r/a/ok", "a", 40, 99)
	write("runs/r/a/ok", "b", 0, 24)
	write("runs/r/a/ok", "c", 25, 39)
	m, err := dataset.RecordFilesByRange(ctx, store, out("runs/r/a/ok"), cols, []string{"athena/a", "athena/b", "athena/c"}, "n")
	if err != nil {
		t.Fatal(err)
	}
	if m.Rows != 100 || !slices.Equal(m.Files, []string{"athena/b", "athena/c", "athena/a"}) {
		t.Fatalf("recorded %d rows in %v", m.Rows, m.Files)
	}
	var got []int64
	if _, err := e.Stream(ctx, "runs/r/a/ok", dataset.StreamOptions{Columns: []string{"n"}, Offset: 20, Limit: 30}, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			got = append(got, dataset.Int(r[0]))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 30 || got[0] != 20 || got[29] != 49 || !slices.IsSorted(got) {
		t.Errorf("rows 20..49 read as %v", got)
	}
	if !slices.Equal(m.FileRows, []int64{25, 15, 60}) {
		t.Errorf("file rows %v", m.FileRows)
	}
	// Over a store that must download, the window 20..29 fetches only the
	// two files holding it (b and c), not a; its rows are the same, read in
	// Go or by DuckDB.
	for _, goRead := range []bool{true, false} {
		restore := dataset.SetGoStream(goRead)
		counted := &gets{Store: store}
		var again []int64
		if _, err := engine(t, counted).Stream(ctx, "runs/r/a/ok", dataset.StreamOptions{Columns: []string{"n"}, Offset: 20, Limit: 10}, func(b *dataset.Batch) error {
			for _, r := range b.Rows {
				again = append(again, dataset.Int(r[0]))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		restore()
		if !slices.Equal(again, got[:10]) {
			t.Errorf("go %v: window read as %v, want %v", goRead, again, got[:10])
		}
		if want := []string{"runs/r/a/ok/athena/b", "runs/r/a/ok/athena/c"}; !slices.Equal(counted.data(), want) {
			t.Errorf("go %v: fetched %v, want %v", goRead, counted.data(), want)
		}
	}
	// Overlapping and gapped files are an error naming the file.
	write("runs/r/a/overlap", "a", 0, 30)
	write("runs/r/a/overlap", "b", 25, 50)
	write("runs/r/a/gap", "a", 0, 9)
	write("runs/r/a/gap", "b", 11, 20)
	for _, ref := range []string{"runs/r/a/overlap", "runs/r/a/gap"} {
		_, err := dataset.RecordFilesByRange(ctx, store, out(ref), cols, []string{"athena/a", "athena/b"}, "n")
		if err == nil || !strings.Contains(err.Error(), "file athena/b") || !strings.Contains(err.Error(), "do not tile") {
			t.Errorf("%s: %v", ref, err)
		}
	}
}

// gets is a store that is no folder (files are downloaded) and records the
// keys read.
type gets struct {
	blob.Store
	mu   sync.Mutex
	keys []string
}

func (g *gets) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	g.mu.Lock()
	g.keys = append(g.keys, key)
	g.mu.Unlock()
	return g.Store.Get(ctx, key)
}

// data lists the data files read, sorted.
func (g *gets) data() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, k := range g.keys {
		if !strings.HasSuffix(k, dataset.ManifestName) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

// A manifest whose file row counts do not match its files is refused.
func TestManifestFileRows(t *testing.T) {
	store := folder(t)
	for ref, body := range map[string]string{
		"bad/count": `{"version":1,"dimension":"","columns":[],"rows":3,"files":["a","b"],"fileRows":[3],"createdAt":"1970-01-01T00:00:00Z"}`,
		"bad/sum":   `{"version":1,"dimension":"","columns":[],"rows":3,"files":["a","b"],"fileRows":[1,1],"createdAt":"1970-01-01T00:00:00Z"}`,
	} {
		if err := store.Put(ctx, ref+"/"+dataset.ManifestName, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		_, err := dataset.ReadManifest(ctx, store, dataset.Ref(ref))
		if err == nil || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "files") {
			t.Errorf("%s: %v", ref, err)
		}
	}
}
