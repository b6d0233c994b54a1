// Command targeting benchmarks the targeting activity handlers on generated
// data (default 1M customers, ~4M purchases) against the same work written
// as plain DuckDB SQL, in the same process: build-audience with a link
// aggregate, enrichment with two aggregates, deduplication, a 3-way split.
// Each step reports wall time and peak RSS (VmHWM, reset before each step
// through /proc/self/clear_refs). Run it with bench/targeting.sh.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// today anchors the generated data and the run's relative dates.
var today = time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)

var now = today.Add(12 * time.Hour)

const campaignYAML = `version: 1
id: bench
name: bench
dimension: customers
activities:
  - id: lapsed
    type: build-audience
    where:
      all:
        - { field: lastPurchaseAt, op: lt, value: { ago: 90d } }
        - { field: emailOptIn, op: eq, value: true }
        - { link: purchases, aggregate: sum, field: amount, op: gte, value: 100 }
  - id: rich
    type: enrichment
    from: lapsed
    add:
      - { name: orders365, link: purchases, aggregate: count, where: { field: purchasedAt, op: gt, value: { ago: 365d } } }
      - { name: spend365, link: purchases, aggregate: sum, field: amount, where: { field: purchasedAt, op: gt, value: { ago: 365d } } }
  - { id: dedup, type: deduplication, from: rich, by: [email], method: first, orderBy: [{ field: spend365, desc: true }], complement: true }
  - id: split
    type: split
    from: dedup
    segments:
      - { name: vip, where: { field: spend365, op: gte, value: 500 }, limit: { count: 1000, orderBy: [{ field: spend365, desc: true }] } }
      - { name: regular, where: { field: orders365, op: gte, value: 1 } }
      - { name: sample, limit: { percent: 10, random: true } }
    others: true
`

type step struct {
	name     string
	activity string
	from     string
	// files are the hand-written outputs, by port, for the row counts.
	files map[string]string
	// sql is the hand-written equivalent: statements run in order; {{x}}
	// are file paths.
	sql []string
}

var steps = []step{
	{name: "build-audience (link aggregate)", activity: "lapsed", files: map[string]string{"out": "lapsed"}, sql: []string{
		`COPY (SELECT c.* FROM {{customers}} c
			JOIN (SELECT customerId, sum(amount) AS s FROM {{purchases}} GROUP BY customerId) p ON p.customerId = c.customerId
			WHERE c.lastPurchaseAt < {{ago90}} AND c.emailOptIn AND p.s >= 100
			ORDER BY c.customerId) TO {{lapsed}} (FORMAT parquet, COMPRESSION zstd)`,
	}},
	{name: "enrichment (2 aggregates)", activity: "rich", from: "lapsed", files: map[string]string{"out": "rich"}, sql: []string{
		`COPY (SELECT l.*, coalesce(a.n, 0) AS orders365, a.s AS spend365 FROM read_parquet({{lapsed}}) l
			LEFT JOIN (SELECT customerId, count(*) FILTER (WHERE purchasedAt > {{ago365}}) AS n,
				sum(amount) FILTER (WHERE purchasedAt > {{ago365}}) AS s FROM {{purchases}} GROUP BY customerId) a ON a.customerId = l.customerId
			ORDER BY l.customerId) TO {{rich}} (FORMAT parquet, COMPRESSION zstd)`,
	}},
	{name: "deduplication (by email, 2 ports)", activity: "dedup", from: "rich", files: map[string]string{"out": "dedup", "duplicates": "dups"}, sql: []string{
		`CREATE OR REPLACE TABLE hand_ranked AS SELECT *, row_number() OVER (PARTITION BY email ORDER BY spend365 DESC NULLS LAST, customerId) AS rn
			FROM read_parquet({{rich}})`,
		`COPY (SELECT * EXCLUDE (rn) FROM hand_ranked WHERE rn = 1 ORDER BY customerId) TO {{dedup}} (FORMAT parquet, COMPRESSION zstd)`,
		`COPY (SELECT * EXCLUDE (rn) FROM hand_ranked WHERE rn > 1 ORDER BY customerId) TO {{dups}} (FORMAT parquet, COMPRESSION zstd)`,
		`DROP TABLE hand_ranked`,
	}},
	{name: "split (3 segments + others)", activity: "split", from: "dedup",
		files: map[string]string{"vip": "vip", "regular": "regular", "sample": "sample", "others": "others"}, sql: []string{
			`CREATE OR REPLACE TABLE hand_base AS SELECT *, row_number() OVER (ORDER BY customerId) AS rid FROM read_parquet({{dedup}})`,
			`CREATE OR REPLACE TABLE hand_seg AS SELECT rid, 0 AS seg FROM hand_base WHERE spend365 >= 500 ORDER BY spend365 DESC NULLS LAST, rid LIMIT 1000`,
			`INSERT INTO hand_seg SELECT rid, 1 FROM hand_base WHERE orders365 >= 1 AND rid NOT IN (SELECT rid FROM hand_seg)`,
			`INSERT INTO hand_seg SELECT rid, 2 FROM hand_base WHERE rid NOT IN (SELECT rid FROM hand_seg)
			QUALIFY row_number() OVER (ORDER BY hash('seed', customerId), rid) <= count(*) OVER () // 10`,
			`COPY (SELECT b.* EXCLUDE (rid) FROM hand_base b JOIN hand_seg s USING (rid) WHERE s.seg = 0 ORDER BY rid) TO {{vip}} (FORMAT parquet, COMPRESSION zstd)`,
			`COPY (SELECT b.* EXCLUDE (rid) FROM hand_base b JOIN hand_seg s USING (rid) WHERE s.seg = 1 ORDER BY rid) TO {{regular}} (FORMAT parquet, COMPRESSION zstd)`,
			`COPY (SELECT b.* EXCLUDE (rid) FROM hand_base b JOIN hand_seg s USING (rid) WHERE s.seg = 2 ORDER BY rid) TO {{sample}} (FORMAT parquet, COMPRESSION zstd)`,
			`COPY (SELECT b.* EXCLUDE (rid) FROM hand_base b WHERE rid NOT IN (SELECT rid FROM hand_seg) ORDER BY rid) TO {{others}} (FORMAT parquet, COMPRESSION zstd)`,
			`DROP TABLE hand_base`, `DROP TABLE hand_seg`,
		}},
}

type measure struct {
	Seconds float64 `json:"seconds"`
	PeakMB  float64 `json:"peakRssMB"`
	Rows    string  `json:"rows"`
}

func main() {
	customers := flag.Int("customers", 1_000_000, "customers to generate (purchases are about 4 per customer)")
	out := flag.String("out", "bench/out", "folder for the generated data (cached) and the runs")
	threads := flag.Int("threads", 0, "DuckDB threads (0: GOMAXPROCS)")
	mem := flag.Int64("memory-mb", 0, "DuckDB memory limit in MiB (0: the engine default)")
	repeat := flag.Int("repeat", 3, "runs of each side; the fastest time and the largest peak are reported")
	jsonOut := flag.Bool("json", false, "print the figures as JSON")
	child := flag.String("child", "", "internal: run one side (activities or sql) in this process")
	dataDir := flag.String("data", "", "internal: the data folder")
	flag.Parse()
	o := options{threads: *threads, mem: *mem << 20}
	var err error
	if *child != "" {
		err = runChild(*child, *dataDir, *out, o)
	} else {
		err = runParent(*customers, *out, *repeat, *jsonOut, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	threads int
	mem     int64
}

// runParent generates the data once, then runs each side in its own process
// (so that peak RSS is the side's own), alternating, repeat times.
func runParent(customers int, outDir string, repeat int, jsonOut bool, o options) error {
	dataDir, err := filepath.Abs(filepath.Join(outDir, fmt.Sprintf("sample-%d", customers)))
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dataDir, "catalog.yaml")); err != nil {
		start := time.Now()
		if err := sampledata.Generate(context.Background(), dataDir, sampledata.Options{Customers: customers, Seed: 1, Today: today,
			Threads: o.threads, MemoryLimit: o.mem}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "generated %d customers in %.1fs\n", customers, time.Since(start).Seconds())
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	best := map[string][]measure{}
	for r := 0; r < repeat; r++ {
		for _, side := range []string{"activities", "sql"} {
			cmd := exec.Command(self, "-child", side, "-data", dataDir, "-out", outDir,
				"-threads", strconv.Itoa(o.threads), "-memory-mb", strconv.FormatInt(o.mem>>20, 10))
			cmd.Stderr = os.Stderr
			b, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("%s: %w", side, err)
			}
			var ms []measure
			if err := json.Unmarshal(b, &ms); err != nil {
				return fmt.Errorf("%s: %w", side, err)
			}
			if prev := best[side]; prev != nil {
				for i := range ms {
					ms[i].Seconds = min(ms[i].Seconds, prev[i].Seconds)
					ms[i].PeakMB = max(ms[i].PeakMB, prev[i].PeakMB)
				}
			}
			best[side] = ms
		}
	}
	act, sqlM := best["activities"], best["sql"]
	chainPeak := 0.0
	for i, s := range steps {
		if act[i].Rows != sqlM[i].Rows {
			return fmt.Errorf("%s: activity rows %s, hand-written SQL rows %s", s.name, act[i].Rows, sqlM[i].Rows)
		}
		chainPeak = max(chainPeak, act[i].PeakMB)
	}
	if jsonOut {
		type row struct {
			Step     string  `json:"step"`
			Activity measure `json:"activity"`
			SQL      measure `json:"sql"`
			Ratio    float64 `json:"ratio"`
		}
		var rows []row
		for i, s := range steps {
			rows = append(rows, row{s.name, act[i], sqlM[i], act[i].Seconds / sqlM[i].Seconds})
		}
		return json.NewEncoder(os.Stdout).Encode(map[string]any{"customers": customers, "threads": runtime.GOMAXPROCS(0), "repeat": repeat,
			"steps": rows, "chainPeakRssMB": chainPeak})
	}
	fmt.Printf("%d customers, GOMAXPROCS %d, DuckDB memory limit %s, best of %d runs per side\n\n", customers, runtime.GOMAXPROCS(0), memString(o.mem), repeat)
	fmt.Printf("| step | activity s | activity peak RSS | hand SQL s | hand SQL peak RSS | ratio | rows |\n|---|---|---|---|---|---|---|\n")
	for i, s := range steps {
		fmt.Printf("| %s | %.2f | %.0f MB | %.2f | %.0f MB | %.2fx | %s |\n", s.name, act[i].Seconds, act[i].PeakMB, sqlM[i].Seconds, sqlM[i].PeakMB,
			act[i].Seconds/sqlM[i].Seconds, act[i].Rows)
	}
	fmt.Printf("\nwhole activity chain: %.2f s, peak RSS %.0f MB\n", sum(act), chainPeak)
	fmt.Printf("whole hand-written SQL: %.2f s\n", sum(sqlM))
	return nil
}

// runChild runs one side and prints its measures as JSON.
func runChild(side, dataDir, outDir string, o options) error {
	work, err := os.MkdirTemp(outDir, "run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var ms []measure
	switch side {
	case "activities":
		ms, err = runActivities(dataDir, work, o)
	case "sql":
		ms, err = runSQL(dataDir, work, o)
	default:
		err = fmt.Errorf("unknown side %q", side)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(ms)
}

// runActivities runs the chain through the handlers, as a Lambda or the
// local executor does.
func runActivities(dataDir, work string, o options) ([]measure, error) {
	ctx := context.Background()
	bs, err := folderblob.New(filepath.Join(work, "blob"))
	if err != nil {
		return nil, err
	}
	st, err := boltstate.Open(filepath.Join(work, "state"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	chk := compile.Checkers{Condition: func(r campaign.Reporter, path string, cond *condition.Condition, s campaign.Schema, p *compile.Program) {
		condition.Check(r, path, cond, condition.CheckEnv{Catalog: p.Catalog, Schema: s, Mode: condition.PopulationMode})
	}}
	eng, err := dataset.New(dataset.Options{Store: bs, WorkDir: filepath.Join(work, "work"), Threads: o.threads, MemoryLimit: o.mem})
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	reg := builtin.Bind(builtin.NewFamilies(builtin.Host{Blob: bs, State: st, Engine: eng}))
	env := &activity.Env{WorkDir: filepath.Join(work, "work")}
	catData, err := os.ReadFile(filepath.Join(dataDir, "catalog.yaml"))
	if err != nil {
		return nil, err
	}
	p, pd := compile.CompileSources(dataDir, []byte(campaignYAML), catData, reg, chk)
	if pd.HasErrors() {
		return nil, pd
	}
	comp := p.Compiled()

	results := map[string]*activity.Result{}
	ms := make([]measure, len(steps))
	for i, s := range steps {
		var inputs []activity.Input
		if s.from != "" {
			r := results[s.from]
			inputs = []activity.Input{{From: s.from, Port: "out", Ref: r.Ports["out"], Count: r.Counts["out"]}}
		}
		req := &activity.Request{Campaign: p.Campaign.ID, Plan: p.Bundle.Digest, Activity: s.activity, Inputs: inputs,
			Run: activity.RunInfo{ID: "bench", Now: now.Format(time.RFC3339Nano)}}
		var res *activity.Result
		m, err := measured(func() error {
			var err error
			a, cfg, _ := comp.Config(s.activity)
			res, err = p.Specs[s.activity].Run(ctx, &activity.Call{Env: env, Req: req, Plan: comp, Activity: a, Log: st}, cfg)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.activity, err)
		}
		results[s.activity] = res
		var parts []string
		for _, port := range campaign.SortedKeys(s.files) {
			parts = append(parts, fmt.Sprintf("%s %d", port, res.Counts[port]))
		}
		m.Rows = strings.Join(parts, ", ")
		ms[i] = m
	}
	return ms, nil
}

// runSQL runs the hand-written SQL of each step on a plain engine.
func runSQL(dataDir, work string, o options) ([]measure, error) {
	ctx := context.Background()
	hand, err := dataset.New(dataset.Options{WorkDir: filepath.Join(work, "hand"), Threads: o.threads, MemoryLimit: o.mem})
	if err != nil {
		return nil, err
	}
	defer hand.Close()
	vars := map[string]string{
		"customers": "read_parquet(" + dataset.QuoteLiteral(filepath.Join(dataDir, "customers.parquet")) + ")",
		"purchases": "read_parquet(" + dataset.QuoteLiteral(filepath.Join(dataDir, "purchases.parquet")) + ")",
		"ago90":     "TIMESTAMPTZ '" + now.AddDate(0, 0, -90).Format("2006-01-02 15:04:05+00") + "'",
		"ago365":    "TIMESTAMPTZ '" + now.AddDate(0, 0, -365).Format("2006-01-02 15:04:05+00") + "'",
	}
	for _, f := range []string{"lapsed", "rich", "dedup", "dups", "vip", "regular", "sample", "others"} {
		vars[f] = dataset.QuoteLiteral(filepath.Join(work, "hand-"+f+".parquet"))
	}
	ms := make([]measure, len(steps))
	for i, s := range steps {
		m, err := measured(func() error {
			for _, stmt := range s.sql {
				for k, v := range vars {
					stmt = strings.ReplaceAll(stmt, "{{"+k+"}}", v)
				}
				t0 := time.Now()
				if err := hand.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w\n%s", s.name, err, stmt)
				}
				if os.Getenv("BENCH_VERBOSE") != "" {
					fmt.Fprintf(os.Stderr, "%.2fs %.60s\n", time.Since(t0).Seconds(), strings.Join(strings.Fields(stmt), " "))
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var parts []string
		for _, port := range campaign.SortedKeys(s.files) {
			row, err := hand.QueryRow(ctx, "SELECT count(*) FROM read_parquet("+vars[s.files[port]]+")")
			if err != nil {
				return nil, err
			}
			parts = append(parts, fmt.Sprintf("%s %d", port, row[0]))
		}
		m.Rows = strings.Join(parts, ", ")
		ms[i] = m
	}
	return ms, nil
}

// measured runs fn and returns its wall time and the process's peak RSS
// while it ran.
func measured(fn func() error) (measure, error) {
	runtime.GC()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) // reset VmHWM (Linux)
	start := time.Now()
	err := fn()
	return measure{Seconds: time.Since(start).Seconds(), PeakMB: float64(peakRSS()) / (1 << 20)}, err
}

// peakRSS reads VmHWM from /proc/self/status, in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func sum(ms []measure) float64 {
	t := 0.0
	for _, m := range ms {
		t += m.Seconds
	}
	return t
}

func memString(mem int64) string {
	if mem <= 0 {
		mem = dataset.DefaultMemoryLimit()
	}
	return fmt.Sprintf("%d MiB", mem>>20)
}
