package main

import (
	"bufio"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/template"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// The limit is a campaign's data work written by hand as one DuckDB
// statement (CTEs, FILTER aggregates, QUALIFY; no intermediate table or
// file) whose rows stream into a plain Go loop that renders, per message,
// what Stepwise's email channel renders: the signed one-click unsubscribe
// link and its List-Unsubscribe header, the subject and the HTML body from
// templates parsed once. Rendering runs on GOMAXPROCS goroutines, as the
// channel's workers do.
//
// A statement's rows are: act (the index of the email activity in
// benchCampaign.Emails), then the recipient columns the templates read,
// among them the key and the address.
//
// --part picks what is measured:
//   - all: the limit (statement streamed into the render loop);
//   - sql: the statement alone, its rows copied into a Parquet file in the
//     work folder (which the floor reads);
//   - floor: a plain read of that file (the final recipients, already
//     selected) and the same render loop. The limit is "one SQL statement +
//     render" when it costs at most ~1.5× the statement alone plus the floor;
//   - transitions: every port of the campaign computed and counted
//     (transitions.go), then the channels' inputs rendered; the counts by
//     port follow the message count, as JSON;
//   - explain: DuckDB's EXPLAIN ANALYZE of the statement, on stderr.
func limit(args []string) error {
	fs := flag.NewFlagSet("limit", flag.ExitOnError)
	dir := fs.String("dir", "", "prepared size folder")
	name := fs.String("campaign", "reference", "bench campaign")
	mode := fs.String("mode", "test", "test or live (live also writes every message to a JSONL outbox)")
	part := fs.String("part", "all", "all, sql, floor, transitions or explain")
	nowFlag := fs.String("now", "", "reference instant, RFC 3339 (default: now)")
	runID := fs.String("run", "limit", "run id signed into the unsubscribe links")
	fs.Parse(args)
	bc, ok := campaignNamed(*name)
	if !ok {
		return fmt.Errorf("unknown campaign %q", *name)
	}
	now := time.Now().UTC()
	if *nowFlag != "" {
		var err error
		if now, err = time.Parse(time.RFC3339Nano, *nowFlag); err != nil {
			return err
		}
	}
	ctx := context.Background()
	db, closeDB, err := openDuckDB()
	if err != nil {
		return err
	}
	defer closeDB()
	selected := filepath.Join(*dir, "limit-"+bc.Name+".parquet")
	var counts map[string]int64 // the transitions side's, by port
	query, qargs := bc.SQL(filepath.Join(*dir, "data"), *dir, now)
	start := time.Now()
	switch *part {
	case "sql":
		if _, err := db.ExecContext(ctx, "COPY ("+query+") TO "+dataset.QuoteLiteral(selected)+" (FORMAT parquet)", qargs...); err != nil {
			return err
		}
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet("+dataset.QuoteLiteral(selected)+")").Scan(&n); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  limit %s sql: %s, %d rows\n", bc.Name, round(time.Since(start)), n)
		fmt.Println(n)
		return nil
	case "explain":
		var kind, plan string
		if err := db.QueryRowContext(ctx, "EXPLAIN ANALYZE "+query, qargs...).Scan(&kind, &plan); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, plan)
		fmt.Println(0)
		return nil
	case "floor":
		query, qargs = "SELECT * FROM read_parquet("+dataset.QuoteLiteral(selected)+")", nil
	case "transitions":
		tr := bc.Transitions(filepath.Join(*dir, "data"), *dir, now)
		if counts, err = runTransitions(ctx, db, tr); err != nil {
			return err
		}
		query, qargs = tr.Final, nil
	case "all":
	default:
		return fmt.Errorf("--part %q: all, sql, floor, transitions or explain", *part)
	}
	r, err := newRenderer(*dir, bc, *runID, now)
	if err != nil {
		return err
	}
	if *mode == "live" {
		f, err := os.Create(filepath.Join(*dir, "limit-outbox.jsonl"))
		if err != nil {
			return err
		}
		defer f.Close()
		r.out = bufio.NewWriterSize(f, 1<<20)
		defer r.out.Flush()
	}
	st, err := r.stream(ctx, db, query, qargs...)
	if err != nil {
		return err
	}
	total := time.Since(start)
	fmt.Fprintf(os.Stderr, "  limit %s %s: first row %s, rows read %s (reader busy %s), render %s on %d workers, total %s\n",
		bc.Name, *part, round(st.firstRow), round(st.lastRow), round(st.readBusy), round(st.render), r.workers, round(total))
	fmt.Println(st.messages)
	if counts != nil {
		b, err := json.Marshal(counts)
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return nil
}

// openDuckDB opens an in-memory DuckDB as Stepwise's engine configures it:
// every core, the same memory limit, UTC.
func openDuckDB() (*sql.DB, func(), error) {
	work, err := os.MkdirTemp("", "limit")
	if err != nil {
		return nil, nil, err
	}
	cfg := url.Values{}
	cfg.Set("threads", strconv.Itoa(runtime.GOMAXPROCS(0)))
	cfg.Set("temp_directory", filepath.Join(work, "spill"))
	if mem := dataset.DefaultMemoryLimit(); mem > 0 {
		cfg.Set("memory_limit", strconv.FormatInt(max(mem>>20, 64), 10)+"MiB")
	}
	connector, err := duckdb.NewConnector("?"+cfg.Encode(), func(ex driver.ExecerContext) error {
		_, err := ex.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil)
		return err
	})
	if err != nil {
		os.RemoveAll(work)
		return nil, nil, err
	}
	db := sql.OpenDB(connector)
	return db, func() { db.Close(); os.RemoveAll(work) }, nil
}

// arm is one email activity's templates and link signer.
type arm struct {
	subject, html *template.Template
	signer        *unsubscribe.Signer
}

// renderer renders the messages of one campaign.
type renderer struct {
	bc      *benchCampaign
	arms    []arm
	builder *template.Builder
	workers int
	out     *bufio.Writer // live mode: the outbox
	outMu   sync.Mutex
	sample  func(message) // when set, called with one rendered message (tests)
}

// unsubscribeBase is the base URL of the links (the product's test mode uses
// https://unsubscribe.invalid and a placeholder secret).
const unsubscribeBase = "https://unsubscribe.invalid"

var unsubscribeSecret = []byte("test-mode-placeholder-secret")

func newRenderer(dir string, bc *benchCampaign, runID string, now time.Time) (*renderer, error) {
	msgs, err := emailMessages(filepath.Join(dir, bc.File))
	if err != nil {
		return nil, err
	}
	r := &renderer{bc: bc, workers: runtime.GOMAXPROCS(0)}
	for _, id := range bc.Emails {
		m, ok := msgs[id]
		if !ok {
			return nil, fmt.Errorf("%s: no email activity %q", bc.File, id)
		}
		a := arm{signer: unsubscribe.NewSigner(unsubscribeSecret, unsubscribe.Claims{Campaign: bc.ID, Run: runID, Activity: id,
			Channel: "email", IssuedAt: now.Unix()})}
		if a.subject, err = template.Parse(m.Subject, template.Options{Name: "subject"}); err != nil {
			return nil, err
		}
		src, err := os.ReadFile(filepath.Join(dir, m.HTML.File))
		if err != nil {
			return nil, err
		}
		if a.html, err = template.Parse(string(src), template.Options{HTML: true, Name: "html"}); err != nil {
			return nil, err
		}
		r.arms = append(r.arms, a)
	}
	r.builder = template.NewBuilder(template.Scope{}, template.Shared{Params: bc.Params,
		Campaign: template.Campaign{ID: bc.ID}, Run: template.Run{ID: runID}})
	return r, nil
}

// streamed is what one stream measured.
type streamed struct {
	messages          int64
	perEmail          []int64       // by index in benchCampaign.Emails
	firstRow, lastRow time.Duration // since the query started
	readBusy, render  time.Duration // the reader's time outside channel sends; the workers' render time, summed
}

// batch is rows handed from the reader to a worker; ptrs[i] points into
// rows[i], for Scan.
type batch struct {
	rows, ptrs [][]any
}

func newBatch(width int) *batch {
	b := &batch{rows: make([][]any, batchRows), ptrs: make([][]any, batchRows)}
	for i := range b.rows {
		b.rows[i] = make([]any, width)
		b.ptrs[i] = make([]any, width)
		for j := range b.rows[i] {
			b.ptrs[i][j] = &b.rows[i][j]
		}
	}
	b.rows = b.rows[:0]
	return b
}

const batchRows = 1024

// stream runs the query and renders every row on r.workers goroutines.
func (r *renderer) stream(ctx context.Context, db *sql.DB, query string, args ...any) (streamed, error) {
	var st streamed
	start := time.Now()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return st, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return st, err
	}
	if len(cols) < 2 || cols[0] != "act" {
		return st, fmt.Errorf("the statement must return act, then the recipient columns (got %v)", cols)
	}
	key, addr := -1, -1
	for i, c := range cols {
		switch c {
		case r.bc.Key:
			key = i
		case r.bc.Address:
			addr = i
		}
	}
	if key < 0 || addr < 0 {
		return st, fmt.Errorf("the statement must return %s and %s (got %v)", r.bc.Key, r.bc.Address, cols)
	}
	work := make(chan *batch, 2*r.workers)
	free := make(chan *batch, 4*r.workers)
	var (
		wg       sync.WaitGroup
		renderNs atomic.Int64
		messages atomic.Int64
		firstErr error
		errOnce  sync.Once
		failed   atomic.Bool
		perEmail = make([]atomic.Int64, len(r.arms))
	)
	sample := r.sample
	var sampleOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err; failed.Store(true) }) }
	for range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := make(map[string]any, len(cols))
			local := make([]int64, len(r.arms))
			var line []byte
			for b := range work {
				t0 := time.Now()
				var n int64
				for _, row := range b.rows {
					if failed.Load() {
						break
					}
					for i := 1; i < len(cols); i++ {
						rec[cols[i]] = row[i]
					}
					act, ok := actIndex(row[0])
					if !ok || act >= len(r.arms) {
						fail(fmt.Errorf("act %v is not an email activity", row[0]))
						break
					}
					k, _ := row[key].(string)
					to, _ := row[addr].(string)
					if r.out == nil && sample == nil {
						// test mode: every message rendered, none kept
						if err := r.check(&r.arms[act], rec, k, to); err != nil {
							fail(err)
							break
						}
						n++
						local[act]++
						continue
					}
					msg, err := r.render(&r.arms[act], rec, k, to)
					if err != nil {
						fail(err)
						break
					}
					if sample != nil {
						sampleOnce.Do(func() { sample(msg) })
					}
					if r.out != nil {
						line, _ = json.Marshal(msg)
						r.outMu.Lock()
						r.out.Write(line)
						r.out.WriteByte('\n')
						r.outMu.Unlock()
					}
					n++
					local[act]++
				}
				messages.Add(n)
				for i, c := range local {
					perEmail[i].Add(c)
					local[i] = 0
				}
				renderNs.Add(int64(time.Since(t0)))
				select {
				case free <- b:
				default:
				}
			}
		}()
	}
	var waited time.Duration
	var cur *batch
	for rows.Next() {
		if st.firstRow == 0 {
			st.firstRow = time.Since(start)
		}
		if cur == nil {
			select {
			case cur = <-free:
				cur.rows = cur.rows[:0]
			default:
				cur = newBatch(len(cols))
			}
		}
		if err := rows.Scan(cur.ptrs[len(cur.rows)]...); err != nil {
			fail(err)
			break
		}
		cur.rows = cur.rows[:len(cur.rows)+1]
		if len(cur.rows) == batchRows {
			t0 := time.Now()
			work <- cur
			waited += time.Since(t0)
			cur = nil
		}
		if failed.Load() {
			break
		}
	}
	if cur != nil && len(cur.rows) > 0 {
		work <- cur
	}
	if err := rows.Err(); err != nil {
		fail(err)
	}
	st.lastRow = time.Since(start)
	st.readBusy = st.lastRow - st.firstRow - waited
	close(work)
	wg.Wait()
	st.messages = messages.Load()
	for i := range perEmail {
		st.perEmail = append(st.perEmail, perEmail[i].Load())
	}
	st.render = time.Duration(renderNs.Load())
	return st, firstErr
}

// message is what the limit renders per recipient (and writes in live mode).
type message struct {
	To      string            `json:"to"`
	Subject string            `json:"subject"`
	HTML    string            `json:"html"`
	Headers map[string]string `json:"headers,omitempty"`
}

// render builds one message as the channel does: the signed unsubscribe
// link (in the bindings and the List-Unsubscribe header), subject, HTML.
func (r *renderer) render(a *arm, rec map[string]any, key, to string) (message, error) {
	link := unsubscribe.URL(unsubscribeBase, a.signer.Sign(key, to))
	b := r.builder.Bindings(rec, template.Message{UnsubscribeURL: link})
	s, err := a.subject.Render(b)
	if err != nil {
		return message{}, err
	}
	h, err := a.html.Render(b)
	if err != nil {
		return message{}, err
	}
	return message{To: to, Subject: s, HTML: h,
		Headers: map[string]string{"List-Unsubscribe": "<" + link + ">", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}}, nil
}

// check renders one message as render does, without keeping it (test
// mode: the product keeps a few proofs only).
func (r *renderer) check(a *arm, rec map[string]any, key, to string) error {
	link := unsubscribe.URL(unsubscribeBase, a.signer.Sign(key, to))
	b := r.builder.Bindings(rec, template.Message{UnsubscribeURL: link})
	if _, err := a.subject.Blank(b); err != nil {
		return err
	}
	_, err := a.html.Blank(b)
	return err
}

// actIndex reads the act column (any integer type).
func actIndex(v any) (int, bool) {
	switch x := v.(type) {
	case int8:
		return int(x), x >= 0
	case int16:
		return int(x), x >= 0
	case int32:
		return int(x), x >= 0
	case int64:
		return int(x), x >= 0
	case uint8:
		return int(x), true
	}
	return 0, false
}
