package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// Bounds every hostile case meets, each command or request on its own
// (docs/decisions.md, "Hostile input"). Measured on a 2-core machine, the worst
// case (a 1 MiB document of half a million list items) answers in 1 to 3 s
// (idle to busy) under 210 MB peak RSS; the bounds leave room for a busier
// machine. On the code before these bounds a recursive alias grew to 2 GB and
// a billion-laughs document to 580 MB, neither answering within 12 s.
const (
	hostileTime = 10 * time.Second
	hostileRSS  = 300 << 20 // peak resident set of the CLI, in bytes
)

// Output that would mean a value reached DuckDB as SQL text, or a crash.
var unclean = regexp.MustCompile(`Parser Error|Binder Error|Catalog Error|syntax error at or near|panic:|goroutine \d+ \[|SIGSEGV|fatal error:|` +
	`root:x:0:0|/bin/(ba)?sh\b`) // the last two: /etc/passwd's content, which the traversal cases aim at

// hostileCase is one document and what it must do.
type hostileCase struct {
	name    string
	doc     []byte
	expect  string            // invalid, runs or bounded
	text    string            // invalid: a diagnostic text; runs: port counts such as a.out=0
	catalog string            // a catalog file for the CLI ("" is the sample data set's)
	also    []string          // invalid: more diagnostic texts, each required
	params  []string          // run parameters NAME=VALUE for run --test
	apiOnly bool              // too large for a CLI file argument to matter; API only
	extra   map[string][]byte // more files beside the campaign
}

// TestHostileCorpus runs every case of testdata/hostile, and the huge ones
// generated here, through `stepwise validate`, `stepwise run --test`,
// POST /v1/validate and POST /v1/campaigns, each within the bounds above.
func TestHostileCorpus(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := stepwise(t, "sample-data", "--customers", "200", "--seed", "1", "--today", "2026-01-01", "--out", filepath.Join(dir, "data")); code != 0 {
		t.Fatalf("sample-data: %s", errOut)
	}
	cases := append(corpusFiles(t), generatedCases()...)
	for i := range cases { // one campaign id a case, so that each is created
		cases[i].doc = bytes.Replace(cases[i].doc, []byte("\nid: huge\n"), []byte("\nid: "+cases[i].name+"\n"), 1)
	}
	// The CLI cases run first: Go starts a child with vfork, and Linux counts
	// the parent's peak RSS into the child's when it execs, so the test
	// process must still be small (the API cases below grow it).
	if self := selfMaxRSS(); self > hostileRSS/4 {
		t.Fatalf("the test process already has a peak RSS of %d MB: the children's would be meaningless", self>>20)
	}
	for _, tc := range cases {
		if tc.apiOnly {
			continue
		}
		t.Run("cli/"+tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".yaml")
			if err := os.WriteFile(file, tc.doc, 0o644); err != nil {
				t.Fatal(err)
			}
			catalog := filepath.Join(dir, "data", "catalog.yaml")
			if tc.catalog != "" {
				catalog = filepath.Join("testdata", "hostile", tc.catalog)
			}
			out := boundedRun(t, "validate", "--catalog", catalog, file)
			checkOutcome(t, "validate", tc, out, "")
			home := filepath.Join(dir, "home-"+tc.name)
			args := []string{"run", "--test", "--json", "--wait", "skip", "--home", home, "--catalog", catalog, file}
			for _, p := range tc.params {
				args = append(args, "--param", p)
			}
			out = boundedRun(t, args...)
			checkOutcome(t, "run --test", tc, out, home)
		})
	}
	srv := hostileServer(t, dir)
	for _, tc := range cases {
		if tc.catalog != "" { // the API's catalog is the server's
			continue
		}
		t.Run("api/"+tc.name, func(t *testing.T) { checkAPI(t, srv, tc) })
	}
}

func selfMaxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss << 10
}

// cliResult is what a bounded CLI call did.
type cliResult struct {
	code           int
	stdout, stderr string
}

// boundedRun runs the CLI within hostileTime and checks its peak RSS.
func boundedRun(t *testing.T, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hostileTime)
	defer cancel()
	var o, e bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("stepwise %s: no answer within %s (killed)", args[0], hostileTime)
	}
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	if rss > hostileRSS {
		t.Errorf("stepwise %s: peak RSS %d MB, bound %d MB", args[0], rss>>20, hostileRSS>>20)
	}
	t.Logf("stepwise %s: exit %d in %s, peak RSS %d MB", args[0], cmd.ProcessState.ExitCode(), time.Since(start).Round(time.Millisecond), rss>>20)
	return cliResult{code: cmd.ProcessState.ExitCode(), stdout: o.String(), stderr: e.String()}
}

func checkOutcome(t *testing.T, what string, tc hostileCase, r cliResult, home string) {
	t.Helper()
	all := r.stdout + r.stderr
	if m := unclean.FindString(all); m != "" {
		t.Errorf("%s: output has %q:\n%.3000s", what, m, all)
	}
	switch tc.expect {
	case "invalid":
		for _, text := range append([]string{tc.text}, tc.also...) {
			if r.code != 1 || !strings.Contains(r.stderr, text) {
				t.Errorf("%s: want exit 1 and %q; got exit %d:\n%.3000s", what, text, r.code, all)
			}
		}
	case "runs":
		if r.code != 0 {
			t.Errorf("%s: want success; got exit %d:\n%.3000s", what, r.code, all)
		}
		if home != "" && tc.text != "" {
			checkCounts(t, tc.text, r.stdout)
		}
	case "refused":
		// Valid, but the run refuses the file (its path is known only then: a parameter, a root flag).
		if what == "validate" && r.code != 0 {
			t.Errorf("%s: want valid; got exit %d:\n%.3000s", what, r.code, all)
		}
		if what != "validate" && (r.code == 0 || !strings.Contains(all, tc.text)) {
			t.Errorf("%s: want a failed run with %q; got exit %d:\n%.3000s", what, tc.text, r.code, all)
		}
	case "bounded":
		if r.code != 0 && r.code != 1 {
			t.Errorf("%s: exit %d:\n%.3000s", what, r.code, all)
		}
	}
}

// checkCounts checks `activity.port=N` pairs against a run's JSON summary.
func checkCounts(t *testing.T, want, summary string) {
	t.Helper()
	var sum struct {
		Activities map[string]struct {
			Ports map[string]int64 `json:"ports"`
		} `json:"activities"`
	}
	if err := json.Unmarshal([]byte(summary), &sum); err != nil {
		t.Fatalf("summary: %v\n%s", err, summary)
	}
	for _, kv := range strings.Fields(want) {
		name, n, _ := strings.Cut(kv, "=")
		act, port, _ := strings.Cut(name, ".")
		if got := fmt.Sprint(sum.Activities[act].Ports[port]); got != n {
			t.Errorf("%s: %s rows, want %s", name, got, n)
		}
	}
}

// corpusFiles reads testdata/hostile/*.yaml and their `# expect:` lines.
func corpusFiles(t *testing.T) []hostileCase {
	files, err := filepath.Glob("testdata/hostile/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	var out []hostileCase
	for _, f := range files {
		doc, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tc := hostileCase{name: strings.TrimSuffix(filepath.Base(f), ".yaml"), doc: doc}
		for _, line := range strings.Split(string(doc), "\n") {
			if v, ok := strings.CutPrefix(line, "# expect: "); ok {
				tc.expect, tc.text, _ = strings.Cut(v, " ")
			}
			if v, ok := strings.CutPrefix(line, "# catalog: "); ok {
				tc.catalog = v
			}
			if v, ok := strings.CutPrefix(line, "# also: "); ok {
				tc.also = append(tc.also, v)
			}
			if v, ok := strings.CutPrefix(line, "# param: "); ok {
				tc.params = append(tc.params, v)
			}
		}
		if tc.expect == "" {
			t.Fatalf("%s: no `# expect:` line", f)
		}
		out = append(out, tc)
	}
	return out
}

const hostileHeader = "version: 1\nid: huge\ndimension: customers\n"

// generatedCases are the cases too large to keep as files.
func generatedCases() []hostileCase {
	pad := func(n int) []byte { // a valid campaign of exactly n bytes
		head := "version: 1\nid: gen-largest\ndimension: customers\nactivities: [{ id: a, type: build-audience }]\n#"
		return []byte(head + strings.Repeat("x", n-len(head)))
	}
	nest := func(open, leaf, close string, n int) string {
		return strings.Repeat(open, n) + leaf + strings.Repeat(close, n)
	}
	where := func(cond string) []byte {
		return []byte(hostileHeader + "activities:\n  - id: a\n    type: build-audience\n    where: " + cond + "\n")
	}
	leaf := "{ field: country, op: eq, value: FR }"
	// Nested link aggregates, customers → purchases → customer → …: the
	// planner's cost grows exponentially with their depth.
	aggregates := func(n int) string {
		chain := leaf
		if n%2 == 1 {
			chain = "{ field: amount, op: gt, value: 1 }"
		}
		for i := n - 1; i >= 0; i-- {
			chain = "{ link: " + []string{"purchases", "customer"}[i%2] + ", aggregate: count, op: gt, value: 0, where: " + chain + " }"
		}
		return chain
	}
	wide := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf("{ link: purchases, aggregate: sum, field: amount, op: gt, value: %d, where: { field: amount, op: gt, value: %d } }", i, i)
		}
		return "{ any: [" + strings.Join(items, ", ") + "] }"
	}
	var blockMaps strings.Builder
	blockMaps.WriteString(hostileHeader + "activities: []\nvariables:\n")
	for i := 0; i < 1000; i++ {
		blockMaps.WriteString(strings.Repeat(" ", i+1) + "k:\n")
	}
	blockMaps.WriteString(strings.Repeat(" ", 1001) + "v\n")
	var unknownKeys strings.Builder
	unknownKeys.WriteString(hostileHeader + "activities:\n  - id: a\n    type: build-audience\n")
	for i := 0; unknownKeys.Len() < campaign.MaxCampaignBytes-64; i++ {
		fmt.Fprintf(&unknownKeys, "    k%d: 1\n", i)
	}
	// A JSON object nested to encoding/json's limit, as the API's `campaign` field.
	deepJSON := `{"version": 1, "id": "deep-json", "activities": [], "variables": {"v": ` + nest("[", "0", "]", 9000) + `}}`
	return []hostileCase{
		{name: "gen-oversized", doc: pad(campaign.MaxCampaignBytes + 1), expect: "invalid", text: "at most 1048576 bytes (1 MiB)"},
		{name: "gen-largest", doc: pad(campaign.MaxCampaignBytes), expect: "runs"},
		{name: "gen-largest-flow-list", doc: []byte(hostileHeader + "activities: [{ id: a, type: build-audience }]\nvariables: { v: [" +
			strings.Repeat("0,", (campaign.MaxCampaignBytes-128)/2) + "0] }\n"), expect: "bounded"},
		{name: "gen-many-unknown-keys", doc: []byte(unknownKeys.String()), expect: "invalid", text: `activities[0].k0: unknown field "k0"`},
		{name: "gen-not-9900", doc: where(nest("{ not: ", leaf, " }", 9900)), expect: "invalid", text: "nested more than 64 levels deep"},
		{name: "gen-all-60", doc: where(nest("{ all: [", leaf, "] }", 60)), expect: "invalid", text: "nested more than 64 levels deep"},
		{name: "gen-deepest-not", doc: where(nest("{ not: ", leaf, " }", campaign.MaxDepth-4)), expect: "runs"},
		{name: "gen-deepest-link-aggregates", doc: where(aggregates(condition.MaxLinkDepth)), expect: "runs"},
		{name: "gen-link-aggregates-21", doc: where(aggregates(21)), expect: "invalid", text: "links nest at most 8 deep"},
		{name: "gen-widest-link-aggregates", doc: where(wide(condition.MaxLinks)), expect: "runs"},
		{name: "gen-link-aggregates-400", doc: where(wide(400)), expect: "invalid", text: "a condition follows at most 64 links"},
		// A test activity's condition becomes an ASL Choice rule: the deepest one runs too.
		{name: "gen-deepest-test-condition", doc: []byte(hostileHeader + "activities:\n  - { id: a, type: build-audience }\n" +
			"  - id: t\n    type: test\n    from: a\n    else: true\n    conditions:\n      - name: big\n        when: " +
			nest("{ not: ", "{ count: a, op: gt, value: 0 }", " }", campaign.MaxDepth-6) + "\n"), expect: "runs"},
		{name: "gen-test-condition-too-deep", doc: []byte(hostileHeader + "activities:\n  - { id: a, type: build-audience }\n" +
			"  - id: t\n    type: test\n    from: a\n    else: true\n    conditions:\n      - name: big\n        when: " +
			nest("{ not: ", "{ count: a, op: gt, value: 0 }", " }", campaign.MaxDepth-5) + "\n"), expect: "invalid", text: "nested more than 64 levels deep"},
		{name: "gen-block-maps-1000", doc: []byte(blockMaps.String()), expect: "invalid", text: "nested more than 64 levels deep"},
		{name: "gen-flow-lists-9000", doc: []byte(hostileHeader + "activities: []\nvariables: { v: " + nest("[", "", "]", 9000) + " }\n"), expect: "invalid", text: "nested more than 64 levels deep"},
		{name: "gen-flow-maps-20000", doc: []byte(hostileHeader + "activities: []\nvariables: " + nest("{a: ", "0", "}", 20000) + "\n"), expect: "invalid", text: "exceeded max depth"},
		{name: "gen-crlf", doc: bytes.ReplaceAll(bytes.Replace(mustRead("testdata/hostile/sql-values.yaml"), []byte("id: sql-values"), []byte("id: gen-crlf"), 1), []byte("\n"), []byte("\r\n")), expect: "runs"},
		{name: "gen-nul-byte", doc: []byte(hostileHeader + "name: a\x00b\nactivities: [{ id: a, type: build-audience }]\n"), expect: "invalid", text: "control characters are not allowed"},
		{name: "gen-json-deep", doc: []byte(deepJSON), expect: "invalid", text: "nested more than 64 levels deep", apiOnly: true},
	}
}

func mustRead(f string) []byte {
	b, err := os.ReadFile(f)
	if err != nil {
		panic(err)
	}
	return b
}

// hostileServer serves the API in-process over a fresh home, with the
// sample catalog and default limits (a 1 MiB body).
func hostileServer(t *testing.T, dir string) *httptest.Server {
	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &local.Backend{L: l, WaitMode: interp.WaitSkip, Concurrency: 1}
	srv := httptest.NewServer(api.New(api.Options{
		Store: l.State, Sources: api.DirSources{Dir: dir, CatalogFile: filepath.Join(dir, "data", "catalog.yaml")}, Bundles: l.Bundles,
		Executor: b, Previewer: b, Uploads: b, Feedback: b, Authorize: api.BearerToken(hostileToken), UnsubscribeSecret: []byte("hostile-secret"),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}))
	t.Cleanup(func() {
		srv.Close()
		b.Close()
		l.Close()
	})
	return srv
}

const hostileToken = "hostile-token-0123456789"

// checkAPI validates the document and creates a campaign from it, each
// request answered within hostileTime and never with a server error.
func checkAPI(t *testing.T, srv *httptest.Server, tc hostileCase) {
	t.Helper()
	body := map[string]any{"source": string(tc.doc)}
	if tc.apiOnly {
		body = map[string]any{"campaign": json.RawMessage(tc.doc)}
	}
	status, res := apiCall(t, srv, "/v1/validate", body)
	switch {
	case status == http.StatusRequestEntityTooLarge: // the body (the document JSON-quoted) is over 1 MiB
		if tc.expect == "runs" {
			t.Logf("POST /v1/validate: 413 for a document of %d bytes", len(tc.doc))
		}
	case status != http.StatusOK:
		t.Errorf("POST /v1/validate: %d %s", status, res)
	default:
		var v api.ValidateResult
		json.Unmarshal(res, &v)
		if m := unclean.FindString(v.Output); m != "" {
			t.Errorf("POST /v1/validate: output has %q", m)
		}
		switch tc.expect {
		case "invalid":
			for _, text := range append([]string{tc.text}, tc.also...) {
				if v.Valid || !strings.Contains(v.Output, text) {
					t.Errorf("POST /v1/validate: want invalid with %q; got valid=%v:\n%.3000s", text, v.Valid, v.Output)
				}
			}
		case "runs", "refused":
			if !v.Valid {
				t.Errorf("POST /v1/validate: want valid; got:\n%.3000s", v.Output)
			}
		}
	}
	// A draft whose structure decodes is saved, with its diagnostics.
	status, res = apiCall(t, srv, "/v1/campaigns", body)
	var created api.CampaignView
	json.Unmarshal(res, &created)
	switch {
	case status >= 500 || status == http.StatusConflict:
		t.Errorf("POST /v1/campaigns: %d %.2000s", status, res)
	case status == http.StatusCreated && created.Valid == nil:
		t.Errorf("POST /v1/campaigns: created without a validity: %.2000s", res)
	case status == http.StatusCreated && *created.Valid != (tc.expect == "runs" || tc.expect == "refused") && tc.expect != "bounded":
		t.Errorf("POST /v1/campaigns: created with valid=%v, want %s: %.2000s", *created.Valid, tc.expect, res)
	case status != http.StatusCreated && tc.expect == "runs" && status != http.StatusRequestEntityTooLarge:
		t.Errorf("POST /v1/campaigns: %d, want 201: %.2000s", status, res)
	}
	if m := unclean.Find(res); m != nil {
		t.Errorf("POST /v1/campaigns: answer has %q", m)
	}
}

func apiCall(t *testing.T, srv *httptest.Server, path string, body any) (int, []byte) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostileTime)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+path, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+hostileToken)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: no answer within %s: %v", path, hostileTime, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	t.Logf("POST %s: %d in %s", path, res.StatusCode, time.Since(start).Round(time.Millisecond))
	return res.StatusCode, raw
}
