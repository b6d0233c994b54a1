package feedback_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/state"
)

var t0 = time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)

// events returns records e<from>..e<to-1>, in a scrambled order.
func events(from, to int) []feedback.Record {
	var out []feedback.Record
	for i := to - 1; i >= from; i-- {
		out = append(out, feedback.Record{ID: fmt.Sprintf("e%06d", i), Event: feedback.Delivered, Channel: "email",
			Campaign: "c", Run: "r", Recipient: fmt.Sprintf("k%d", i), Address: fmt.Sprintf("a%d@example.com", i), At: t0.Add(time.Duration(i) * time.Second)})
	}
	return out
}

type table struct {
	eng   *dataset.Engine
	store blob.Store
	log   *tablelog.Log
	dir   string
}

func newTable(t *testing.T, store blob.Store) *table {
	t.Helper()
	dir := t.TempDir()
	if store == nil {
		s, err := folderblob.New(filepath.Join(dir, "blob"))
		if err != nil {
			t.Fatal(err)
		}
		store = s
	}
	eng, err := dataset.New(dataset.Options{Store: store, WorkDir: dir, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	return &table{eng: eng, store: store, log: tablelog.New(store, nil), dir: dir}
}

func (tb *table) append(t *testing.T, recs []feedback.Record) int64 {
	t.Helper()
	n, err := feedback.Append(context.Background(), tb.eng, tb.log, tb.dir, recs, t0)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (tb *table) head(t *testing.T) (state.TableVersion, *dataset.Manifest) {
	t.Helper()
	ctx := context.Background()
	cur, err := tb.log.CurrentTable(ctx, feedback.Table)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.ReadManifest(ctx, tb.store, dataset.Ref(cur.Ref))
	if err != nil {
		t.Fatal(err)
	}
	return cur, m
}

// ids reads the table's event ids in row order.
func (tb *table) ids(t *testing.T) []string {
	t.Helper()
	cur, _ := tb.head(t)
	var out []string
	_, err := tb.eng.Stream(context.Background(), dataset.Ref(cur.Ref), dataset.StreamOptions{Columns: []string{"eventId"}}, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			out = append(out, r[0].(string))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func idRange(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("e%06d", i))
	}
	return out
}

// An append writes only its new rows, as a part listed after the earlier
// versions' parts; readers see every row; a re-import adds nothing.
func TestAppendWritesParts(t *testing.T) {
	defer feedback.SetCompaction(100, 1<<20, 1<<30)()
	tb := newTable(t, nil)
	if n := tb.append(t, events(0, 50)); n != 50 {
		t.Fatalf("added %d", n)
	}
	_, m1 := tb.head(t)
	if n := tb.append(t, events(40, 80)); n != 30 {
		t.Fatalf("added %d, want 30 (10 already stored)", n)
	}
	cur, m2 := tb.head(t)
	if m2.Version != dataset.PartsVersion || len(m2.Files) != 0 || len(m2.Parts) != 2 || m2.Rows != 80 {
		t.Fatalf("manifest: version %d, %d files, %d parts, %d rows", m2.Version, len(m2.Files), len(m2.Parts), m2.Rows)
	}
	if m2.Parts[0] != m1.Parts[0] || m2.Parts[1].Rows != 30 || m2.Parts[1].Keys == "" {
		t.Fatalf("parts: %+v then %+v", m1.Parts, m2.Parts)
	}
	if got, want := tb.ids(t), append(idRange(0, 50), idRange(50, 80)...); !slices.Equal(got, want) {
		t.Fatalf("rows %v", got)
	}
	if n := tb.append(t, events(0, 80)); n != 0 {
		t.Fatalf("re-import added %d", n)
	}
	if again, _ := tb.head(t); again.Version != cur.Version {
		t.Fatalf("re-import committed version %d", again.Version)
	}
	// A reader through a view (update-data, reports) sees every row.
	ctx := context.Background()
	if _, err := tb.eng.StageDataset(ctx, "fb", dataset.Ref(cur.Ref)); err != nil {
		t.Fatal(err)
	}
	row, err := tb.eng.QueryRow(ctx, "SELECT count(*), count(DISTINCT eventId) FROM fb")
	if err != nil || row[0] != int64(80) || row[1] != int64(80) {
		t.Fatalf("%v %v", row, err)
	}
}

// A version written whole (update-data) is taken over as parts: its rows
// stay, and count as stored.
func TestAppendTakesOverWholeVersion(t *testing.T) {
	defer feedback.SetCompaction(100, 1<<20, 1<<30)()
	tb := newTable(t, nil)
	ctx := context.Background()
	ref, _, err := tb.eng.WriteTable(ctx, feedback.Table, 1, feedback.Key,
		"SELECT * FROM (VALUES ('e000001', 'sent'), ('e000002', 'sent')) AS v(eventId, event)")
	if err == nil {
		_, err = tb.log.CommitTable(ctx, feedback.Table, 0, string(ref), t0)
	}
	if err != nil {
		t.Fatal(err)
	}
	// The whole version has two columns only: Append reads it as it is.
	if n := tb.append(t, events(0, 4)); n != 2 {
		t.Fatalf("added %d, want 2", n)
	}
	_, m := tb.head(t)
	if len(m.Parts) != 2 || !strings.HasPrefix(m.Parts[0].File, filepath.Base(string(ref))+"/") || m.Parts[0].Rows != 2 {
		t.Fatalf("parts %+v", m.Parts)
	}
}

func mergedFiles(m *dataset.Manifest) []string {
	var out []string
	for _, p := range m.Parts {
		out = append(out, filepath.Base(p.File))
	}
	return out
}

// Compaction merges parts, keeps rows and their order, and the merged
// files' bytes depend only on the rows.
func TestCompactKeepsRowsAndBytes(t *testing.T) {
	defer feedback.SetCompaction(3, 1, 1<<30)()
	a, b := newTable(t, nil), newTable(t, nil)
	var want []string
	for i := range 7 {
		a.append(t, events(i*10, i*10+10))
		b.append(t, events(i*10, i*10+10))
		want = append(want, idRange(i*10, i*10+10)...)
	}
	_, ma := a.head(t)
	_, mb := b.head(t)
	if len(ma.Parts) >= 7 || ma.Rows != 70 {
		t.Fatalf("%d parts, %d rows after 7 appends: no compaction", len(ma.Parts), ma.Rows)
	}
	if !slices.Equal(mergedFiles(ma), mergedFiles(mb)) {
		t.Fatalf("parts differ: %v vs %v", mergedFiles(ma), mergedFiles(mb))
	}
	if got := a.ids(t); !slices.Equal(got, want) {
		t.Fatalf("rows %v", got)
	}
	// Merged key indexes still find every row.
	if n := a.append(t, events(0, 70)); n != 0 {
		t.Fatalf("re-import after compaction added %d", n)
	}
}

// Appends racing with compactions lose no row and store none twice.
func TestConcurrentAppendAndCompact(t *testing.T) {
	defer feedback.SetCompaction(2, 1, 1<<30)()
	base := newTable(t, nil)
	ctx := context.Background()
	const writers, batches = 3, 6
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	done := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tb := newTable(t, base.store)
			for i := range batches {
				from := (w*batches + i) * 5
				for {
					_, err := feedback.Append(ctx, tb.eng, tb.log, tb.dir, events(from, from+5+2), t0) // overlaps the next batch
					if errors.Is(err, state.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
					}
					break
				}
			}
		}()
	}
	go func() {
		defer close(errs)
		tb := newTable(t, base.store)
		for {
			select {
			case <-done:
				return
			default:
			}
			if _, err := feedback.Compact(ctx, tb.eng, tb.log, t0); err != nil && !errors.Is(err, state.ErrConflict) {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(done)
	for err := range errs {
		t.Fatal(err)
	}
	if _, m := base.head(t); len(m.Parts) >= writers*batches {
		t.Fatalf("%d parts: no compaction", len(m.Parts))
	}
	got := base.ids(t)
	slices.Sort(got)
	if want := idRange(0, writers*batches*5+2); !slices.Equal(got, want) {
		t.Fatalf("%d rows, want %d: %v", len(got), len(want), got)
	}
}

// failing fails the puts of keys containing match.
type failing struct {
	blob.Store
	match string
}

var errCrash = errors.New("crash")

func (f failing) Put(ctx context.Context, key string, r io.Reader) error {
	if strings.Contains(key, f.match) {
		return errCrash
	}
	return f.Store.Put(ctx, key, r)
}

func (f failing) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	if strings.Contains(key, f.match) {
		return errCrash
	}
	return f.Store.PutIfAbsent(ctx, key, r)
}

// An append that stops before its commit marker (after its part, or after
// its manifest) leaves the previous version current and whole.
func TestAppendCrashKeepsPreviousVersion(t *testing.T) {
	defer feedback.SetCompaction(100, 1<<20, 1<<30)()
	for _, match := range []string{".keys", dataset.ManifestName, "/commits/"} {
		t.Run(match, func(t *testing.T) {
			tb := newTable(t, nil)
			tb.append(t, events(0, 10))
			before, _ := tb.head(t)
			crashing := newTable(t, failing{tb.store, match})
			_, err := feedback.Append(context.Background(), crashing.eng, tablelog.New(crashing.store, nil), crashing.dir, events(10, 20), t0)
			if !errors.Is(err, errCrash) {
				t.Fatalf("append: %v", err)
			}
			if after, _ := tb.head(t); after != before {
				t.Fatalf("head moved: %+v", after)
			}
			if got := tb.ids(t); !slices.Equal(got, idRange(0, 10)) {
				t.Fatalf("rows %v", got)
			}
			if n := tb.append(t, events(0, 20)); n != 10 {
				t.Fatalf("next append added %d", n)
			}
		})
	}
}
