package feedback

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// BenchmarkFeedbackAppend appends batches of 1,000 events (900 new, 100
// re-imported from the batch before) to a message_feedback of 1M, 10M or 50M
// stored rows; ns/op is the cost per 1,000 events, compactions included.
// The stored table is generated once by DuckDB as Parquet parts of 5M rows
// in $STEPWISE_FEEDBACK_BENCH_DIR (default a folder in the temp dir; 50M
// rows take ~3 GB) and reset before each run. Run the sizes side by side
// with a fixed count, so that each sees the same compactions:
//
//	go test ./shared/feedback -run '^$' -bench FeedbackAppend -benchtime 200x
//
// STEPWISE_FEEDBACK_BENCH_LAYOUT=whole stores the table as one version
// written whole (format 1) instead of parts with key indexes: what the code
// before parts read, and what an append takes over once (not timed).
func BenchmarkFeedbackAppend(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000, 50_000_000} {
		b.Run("rows="+strconv.Itoa(n/1_000_000)+"M", func(b *testing.B) {
			benchAppend(b, n)
		})
	}
}

const benchPartRows = 5_000_000

var benchAt = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// benchID is the event id of stored row i (what EventID looks like).
func benchID(prefix string, i int) string {
	h := md5.Sum([]byte(prefix + strconv.Itoa(i)))
	return hex.EncodeToString(h[:])
}

func benchAppend(b *testing.B, rows int) {
	dir := os.Getenv("STEPWISE_FEEDBACK_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "stepwise-feedback-bench")
	}
	root := filepath.Join(dir, strconv.Itoa(rows))
	store, err := folderblob.New(root)
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	eng, err := dataset.New(dataset.Options{Store: store, WorkDir: work})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	ctx := context.Background()
	ver := dataset.Ref(dataset.WarehousePrefix + "/" + Table + "/v000001-bench")
	var files []string
	for p := 0; p*benchPartRows < rows; p++ {
		name := fmt.Sprintf("part-%03d.parquet", p)
		files = append(files, name)
		path := filepath.Join(root, filepath.FromSlash(ver.Key(name)))
		if _, err := os.Stat(path); err == nil {
			continue
		}
		os.MkdirAll(filepath.Dir(path), 0o700)
		from, to := p*benchPartRows, min(rows, (p+1)*benchPartRows)
		err := eng.Exec(ctx, "COPY (SELECT md5(i::VARCHAR) AS eventId, 'delivered' AS event, 'email' AS channel, 'bench' AS campaign, "+
			"'send' AS activity, 'r1' AS run, 'c' || (i % 1000000) AS recipient, 'c' || (i % 1000000) || '@example.com' AS address, "+
			"md5('m' || i) AS messageId, 'sw-' || i AS token, TIMESTAMPTZ '2026-11-01 00:00:00+00' + to_seconds(i) AS at, "+
			"'' AS detail, false AS permanent, false AS machine FROM range(?, ?) AS t(i)) TO "+dataset.QuoteLiteral(path+".tmp")+
			" (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)", from, to)
		if err == nil {
			err = os.Rename(path+".tmp", path)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	// Reset: the generated version alone, committed as version 1.
	tdir := filepath.Join(root, dataset.WarehousePrefix, Table)
	ents, _ := os.ReadDir(tdir)
	for _, e := range ents {
		if e.Name() != "v000001-bench" {
			os.RemoveAll(filepath.Join(tdir, e.Name()))
		}
	}
	os.Remove(filepath.Join(root, filepath.FromSlash(ver.ManifestKey())))
	if err := benchLayout(ctx, eng, ver, root, files, rows); err != nil {
		b.Fatal(err)
	}
	log := tablelog.New(store, nil)
	if _, err := log.CommitTable(ctx, Table, 0, string(ver), benchAt); err != nil {
		b.Fatal(err)
	}
	batch := func(i int) []Record {
		recs := make([]Record, 1000)
		for j := range recs {
			k := i*900 + j - 100 // the first 100 were in the batch before
			recs[j] = Record{ID: benchID("new", k), Event: Opened, Channel: "email", Campaign: "bench", Activity: "send", Run: "r2",
				Recipient: "c" + strconv.Itoa(k%1000000), Address: "c" + strconv.Itoa(k%1000000) + "@example.com",
				At: benchAt.Add(time.Duration(k) * time.Second)}
		}
		return recs
	}
	// The first append takes over a version written whole (untimed).
	if _, err := Append(ctx, eng, log, work, batch(0), benchAt); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		n, err := Append(ctx, eng, log, work, batch(i+1), benchAt)
		if err != nil || n != 900 {
			b.Fatalf("append %d: added %d, %v", i, n, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/1000events")
}
