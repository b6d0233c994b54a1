package channel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// compileAthena compiles the test campaign against the test catalog with
// engine: athena (or auto).
func compileAthena(t *testing.T, engine string) *compile.Program {
	t.Helper()
	p, diags := compileEngine(t, engine, "testdata/campaign.yaml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// compileEngine compiles a campaign against the test catalog with the engine.
func compileEngine(t *testing.T, engine, campaign string) (*compile.Program, campaign.Diagnostics) {
	t.Helper()
	cat, err := os.ReadFile("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "catalog.yaml")
	cat = append(cat, "\nengine: "+engine+"\nathena: { workgroup: primary, database: stepwise, outputLocation: s3://results/q/ }\n"...)
	if err := os.WriteFile(f, cat, 0o644); err != nil {
		t.Fatal(err)
	}
	return builtin.CompileFiles(campaign, f)
}

// concurrency may go past the inline Map's 40 under engine athena, where a
// distributed Map sends the slices (up to MaxListedConcurrency), and the
// distributed Map runs that many at once.
func TestConcurrencyByEngine(t *testing.T) {
	src := func(conc int) string { return mailCampaign(t, fmt.Sprintf("concurrency: %d", conc)) }
	for _, c := range []struct {
		engine string
		conc   int
		err    string
	}{
		{"athena", 200, ""}, {"athena", 1000, ""}, {"athena", 1001, "concurrency must be between 1 and 1000"},
		{"auto", 200, "concurrency must be between 1 and 40"}, {"duckdb", 41, "concurrency must be between 1 and 40"}, {"duckdb", 40, ""},
	} {
		p, diags := compileEngine(t, c.engine, src(c.conc))
		if c.err != "" {
			if !strings.Contains(diags.Error(), c.err) || !strings.Contains(diags.Error(), "concurrency") {
				t.Errorf("%s, %d: %v, want %q", c.engine, c.conc, diags, c.err)
			}
			continue
		}
		if diags.HasErrors() {
			t.Errorf("%s, %d: %v", c.engine, c.conc, diags)
			continue
		}
		var def any
		json.Unmarshal(p.JSON, &def)
		if fan, _ := findState(def, "mail:fanout").(map[string]any); c.engine == "athena" && (fan == nil || fan["MaxConcurrency"] != float64(c.conc)) {
			t.Errorf("%s, %d: the distributed Map is %v", c.engine, c.conc, fan)
		}
	}
}

// listedSlices runs a plan that may list its slices and returns the items
// the distributed Map would read (nil when the plan returned them inline).
func listedSlices(t *testing.T, h *harness, req *activity.Request) (*activity.Result, []activity.Slice) {
	t.Helper()
	res, err := h.do(context.Background(), req)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	l, ok := res.Extra[channel.ExtraSliceList].(channel.SliceList)
	if !ok {
		return res, nil
	}
	key, ok := strings.CutPrefix(l.Key, "pre/")
	if l.Bucket != "run-bucket" || !ok || res.Slices != nil || !strings.HasPrefix(l.Results, "pre/runs/"+req.Run.ID+"/") {
		t.Fatalf("listed as %+v, slices %v", l, res.Slices)
	}
	r, err := h.deps.Data.Blob.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	var items []activity.Slice
	if err := json.Unmarshal(b, &items); err != nil {
		t.Fatal(err)
	}
	if len(items) != l.Slices {
		t.Fatalf("%d items listed, %d said", len(items), l.Slices)
	}
	return res, items
}

// A plan asked to list (the machine has the distributed Map) lists every
// slice under engine athena, none under duckdb or under auto below
// ListAboveSlices, and the listed slices are those it returns inline.
func TestPlanListsSlices(t *testing.T) {
	rows := func(h *harness) activity.Input { r, _, _ := crashPopulation(h, 40); return h.population("pop", r) }
	ha := newHarnessFor(t, compileAthena(t, "athena"))
	ha.deps.RunBucket = channel.RunBucket{Bucket: "run-bucket", Prefix: "pre/"}
	in := rows(ha)
	inline := ha.plan("crash", "inline", false, in) // List unset: a machine without the distributed Map
	req := ha.request("crash", "listed", false, in, channel.PhasePlan)
	req.List = true
	_, items := listedSlices(t, ha, req)
	if len(inline.Slices) < 2 || !reflect.DeepEqual(strings.ReplaceAll(fmt.Sprint(inline.Slices), "inline", "listed"), fmt.Sprint(items)) {
		t.Errorf("listed %v, inline %v", items, inline.Slices)
	}
	// Without a run bucket the plan fails, saying why.
	ha.deps.RunBucket = channel.RunBucket{}
	req.Run.ID = "nobucket"
	if _, err := ha.do(context.Background(), req); err == nil || !strings.Contains(err.Error(), "no run bucket") {
		t.Errorf("without a bucket: %v", err)
	}
	for _, engine := range []string{"auto", "duckdb"} {
		h := newHarnessFor(t, compileAthena(t, engine))
		h.deps.RunBucket = channel.RunBucket{Bucket: "run-bucket", Prefix: "pre/"}
		req := h.request("crash", "r", false, rows(h), channel.PhasePlan)
		req.List = true
		if res, items := listedSlices(t, h, req); items != nil || len(res.Slices) < 2 {
			t.Errorf("engine %s: listed %d slices (inline %d)", engine, len(items), len(res.Slices))
		}
	}
}

// The send phase over listed slices, as the distributed Map's children run
// it: crashes at random points of a slice, retried, send nobody twice and
// settle everyone (the crash modes of TestCrashInjection).
func TestCrashInjectionListed(t *testing.T) {
	points := int64(300)
	if testing.Short() {
		points = 60
	}
	h := newHarnessFor(t, compileAthena(t, "athena"))
	h.deps.RunBucket = channel.RunBucket{Bucket: "run-bucket", Prefix: "pre/"}
	rows, eligible, wantSkipped := crashPopulation(h, 40)
	in := h.population("pop", rows)
	rs := &runSenders{def: h.outbox}
	h.deps.Sender = rs
	rng := rand.New(rand.NewPCG(11, 3))
	var done int64
	crashed := 0
	for run := 0; done < points && !t.Failed(); run++ {
		runID := fmt.Sprintf("listed-%03d", run)
		req := h.request("crash", runID, false, in, channel.PhasePlan)
		req.List = true
		_, items := listedSlices(t, h, req)
		if len(items) < 2 {
			t.Fatalf("%s: %d slices listed", runID, len(items))
		}
		for _, sl := range items {
			for n := 1 + rng.IntN(3); n > 0; n-- {
				mode := rng.IntN(numModes)
				ctx, cancel := context.WithCancel(context.Background())
				cs := &crashSender{inner: h.outbox, after: int64(rng.IntN(int(sl.Count) + 1)), mode: mode, cancel: cancel, store: h.store}
				rs.runs.Store(runID, cs)
				_, err := h.send(ctx, "crash", runID, false, in, sl)
				cancel()
				h.store.failOn.Delete(runID)
				done++
				if cs.fired.Load() && storeCrashOp[mode] == "" || cs.dead.Load() {
					crashed++
				}
				if err == nil {
					break
				}
				if rng.IntN(2) == 0 {
					h.clock.Add(2 * time.Minute)
				}
			}
			rs.runs.Delete(runID)
			if _, err := h.send(context.Background(), "crash", runID, false, in, sl); err != nil {
				t.Fatalf("%s slice %d: clean retry: %v", runID, sl.Index, err)
			}
		}
		fin, err := h.finish("crash", runID, false, in)
		if err != nil {
			t.Fatalf("%s: finish: %v", runID, err)
		}
		checkExactlyOnce(t, h, runID, fin, eligible, wantSkipped)
	}
	if crashed == 0 {
		t.Error("no attempt crashed")
	}
	t.Logf("%d crash points (%d crashed) over listed slices: zero duplicates, zero losses", done, crashed)
}

// findState finds a state by name anywhere in a decoded definition.
func findState(v any, name string) any {
	switch x := v.(type) {
	case map[string]any:
		if st, ok := x["States"].(map[string]any); ok && st[name] != nil {
			return st[name]
		}
		for _, e := range x {
			if f := findState(e, name); f != nil {
				return f
			}
		}
	case []any:
		for _, e := range x {
			if f := findState(e, name); f != nil {
				return f
			}
		}
	}
	return nil
}

// A negative sliceSize is reported at its own path (it was once reported
// at concurrency, which was valid), on every engine.
func TestNegativeSliceSizeNamed(t *testing.T) {
	f := mailCampaign(t, "sliceSize: -5")
	for _, engine := range []string{"duckdb", "athena"} {
		_, diags := compileEngine(t, engine, f)
		got := diags.Error()
		if !strings.Contains(got, "sliceSize must be positive") || !strings.Contains(got, ".sliceSize") || strings.Contains(got, "concurrency") {
			t.Errorf("%s: %v, want the error at the activity's sliceSize only", engine, got)
		}
	}
}

// mailCampaign writes a campaign whose email activity has the line
// option (such as "concurrency: 200") and returns its file.
func mailCampaign(t *testing.T, option string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.yaml")
	err := os.WriteFile(f, []byte(`version: 1
id: mail
dimension: customers
activities:
  - { id: everyone, type: build-audience }
  - id: mail
    type: email
    from: everyone
    `+option+`
    message: { from: "Shop <news@shop.example>", subject: "Hi", html: "<p><a href=\"{{ message.unsubscribeUrl }}\">unsubscribe</a></p>" }
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
