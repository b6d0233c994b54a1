package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// rss is the process's resident memory and its peak, in MB (Linux).
func rss() (now, peak float64) {
	data, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(data), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(l, "VmRSS: %f kB", &kb); err == nil {
			now = kb / 1024
		}
		if _, err := fmt.Sscanf(l, "VmHWM: %f kB", &kb); err == nil {
			peak = kb / 1024
		}
	}
	return now, peak
}

// A transition of a million rows pages through the console's rows endpoint
// to its last page without loading the rows: each page answers its 50 rows,
// and what the process allocates and holds for a page is a small fraction of
// the transition. The figures go to docs/console.md.
func TestRowsOfAMillion(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million rows")
	}
	const total = 1_000_000
	hs, l := serverHome(t)
	bg := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	run, _, err := l.State.StartRun(bg, state.Run{CampaignID: "winback-q4", StartedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	e, err := dataset.New(dataset.Options{Store: l.Blob, WorkDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ref := dataset.PortRef(run.ID, "lapsed", "out")
	m, err := e.Write(bg, dataset.Output{Ref: ref, Key: []string{"customerId"}, UniqueKey: true, RowGroupRows: 10_000, CreatedAt: at},
		`SELECT printf('c%07d', i) AS customerId, 'customer' || i || '@example.com' AS email, i % 1000 AS score,
			DATE '2020-01-01' + CAST(i % 2000 AS INTEGER) AS signupDate FROM range(1000000) t(i) ORDER BY i`)
	if err != nil || m.Rows != total {
		t.Fatalf("write: %v %v", err, m)
	}
	if _, err := l.State.UpdateTask(bg, run.ID, "lapsed", state.TaskUpdate{Status: state.TaskSucceeded, At: at,
		Ports: map[string]int64{"out": total}, Outputs: map[string]string{"out": string(ref)}}); err != nil {
		t.Fatal(err)
	}
	c := client()
	login(t, c, hs.URL)
	page := func(offset int) (rows [][]any, cols []map[string]string, n int, alloc, heap uint64, took time.Duration) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		resp, body := do(t, c, "GET", fmt.Sprintf("%s/ui/runs/%s/transitions/lapsed/out?limit=50&offset=%d", hs.URL, run.ID, offset), "", nil)
		took = time.Since(start)
		runtime.ReadMemStats(&after)
		var p struct {
			Columns []map[string]string
			Rows    [][]any
			Total   int64
		}
		if err := json.Unmarshal([]byte(body), &p); resp.StatusCode != 200 || err != nil || p.Total != total {
			t.Fatalf("page at %d: %d %v %.300s", offset, resp.StatusCode, err, body)
		}
		return p.Rows, p.Columns, len(body), after.TotalAlloc - before.TotalAlloc, after.HeapInuse, took
	}
	page(0) // opens the preview engine
	rssBefore, _ := rss()
	var figures []string
	for _, off := range []int{0, total / 2, total - 50} {
		rows, cols, n, alloc, heap, took := page(off)
		figures = append(figures, fmt.Sprintf("offset %d: %d rows, %d bytes answered, %.1f MB allocated, heap in use %.1f MB, %s",
			off, len(rows), n, float64(alloc)/(1<<20), float64(heap)/(1<<20), took.Round(time.Millisecond)))
		if len(rows) != 50 || rows[0][0] != fmt.Sprintf("c%07d", off) || n > 64<<10 {
			t.Errorf("page at %d: %d rows from %v, %d bytes", off, len(rows), rows[0][0], n)
		}
		// Reading every row allocates hundreds of MB (logged below); a page must not come near.
		if alloc > 32<<20 {
			t.Errorf("page at %d allocated %.1f MB: the rows are loaded, not a page", off, float64(alloc)/(1<<20))
		}
		if off == 0 && (len(cols) != 4 || cols[0]["type"] != "string" || cols[2]["type"] == "" || cols[3]["type"] != "date") {
			t.Errorf("columns: %v", cols)
		}
	}
	rssAfter, peak := rss()
	// For scale: what reading every row once costs (not kept).
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	read := 0
	if _, err := e.Stream(bg, ref, dataset.StreamOptions{}, func(b *dataset.Batch) error { read += len(b.Rows); return nil }); err != nil || read != total {
		t.Fatalf("stream: %v, %d rows", err, read)
	}
	runtime.ReadMemStats(&after)
	all := float64(after.TotalAlloc-before.TotalAlloc) / (1 << 20)
	t.Logf("1,000,000-row transition: %s; RSS %.0f MB → %.0f MB (peak %.0f MB); reading every row once allocates %.0f MB",
		strings.Join(figures, "; "), rssBefore, rssAfter, peak, all)
}
