package athenalocal_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/examples"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/sampledata"
	"github.com/stepwise-run/stepwise/shared/state"
)

var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// ran collects every statement the stand-in ran in this package's tests;
// TestMain parses them all as Trino.
var (
	ranMu sync.Mutex
	ran   []string
)

const athenaSettings = "\nengine: athena\nathena: { workgroup: primary, database: stepwise, outputLocation: s3://stepwise-local/athena-results/ }\n"

// workspace lays out the examples with sample data, and catalog-athena.yaml:
// the same catalog with engine: athena.
func workspace(t *testing.T, customers int) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(examples.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, path), 0o755)
		}
		b, _ := examples.FS.ReadFile(path)
		return os.WriteFile(filepath.Join(dir, path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: customers, Today: now}); err != nil {
		t.Fatal(err)
	}
	// The bench campaigns (bench/reference lays them out the same way
	// beside the examples' catalog, with the leads file it writes).
	bench, _ := filepath.Glob(filepath.Join("..", "..", "..", "bench", "campaigns", "*.yaml"))
	tmpl, _ := filepath.Glob(filepath.Join("..", "..", "..", "bench", "campaigns", "templates", "*"))
	if len(bench) < 2 {
		t.Fatalf("bench campaigns: %v", bench)
	}
	for _, f := range append(bench, tmpl...) {
		dst := filepath.Join(dir, filepath.Base(f))
		if strings.HasSuffix(filepath.Dir(f), "templates") {
			dst = filepath.Join(dir, "templates", filepath.Base(f))
		}
		if _, err := os.Stat(dst); err == nil {
			t.Fatalf("bench file %s collides with an example", f)
		}
		// examples/files/leads.csv is import's: the bench's leads file is
		// generated beside it.
		src := strings.Replace(mustRead(t, f), "default: files/leads.csv", "default: files/bench-leads.csv", 1)
		if err := os.WriteFile(dst, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := sampledata.WriteLeads(context.Background(), filepath.Join(dir, "data"), filepath.Join(dir, "files", "bench-leads.csv")); err != nil {
		t.Fatal(err)
	}
	cat, _ := os.ReadFile(filepath.Join(dir, "catalog.yaml"))
	if err := os.WriteFile(filepath.Join(dir, "catalog-athena.yaml"), append(cat, athenaSettings...), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, dir, campaign, catalog, home string) *runner.Summary {
	t.Helper()
	return runAt(t, dir, campaign, catalog, home, now, true)
}

// runAt runs a campaign with the clock at at, in test mode or not (a
// save-audience saves only outside it).
func runAt(t *testing.T, dir, campaign, catalog, home string, at time.Time, test bool) *runner.Summary {
	t.Helper()
	return runAs(t, dir, campaign, catalog, home, at, test, "")
}

// runAs is runAt with a given run id ("": a new one). Random draws are
// seeded by the run id, so two runs draw alike only under one id.
func runAs(t *testing.T, dir, campaign, catalog, home string, at time.Time, test bool, runID string) *runner.Summary {
	t.Helper()
	return runOpts(t, dir, campaign, catalog, home, at, executor.Options{Test: test, RunID: runID})
}

// runOpts runs a campaign with the clock at at (no real waits), recording
// the Athena statements it runs; the run must succeed.
func runOpts(t *testing.T, dir, campaign, catalog, home string, at time.Time, o executor.Options) *runner.Summary {
	t.Helper()
	p, diags := builtin.CompileFiles(filepath.Join(dir, campaign), filepath.Join(dir, catalog))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, home))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Env.Clock = func() time.Time { return at }
	l.Athena().Ran = func(q string) { ranMu.Lock(); ran = append(ran, q); ranMu.Unlock() }
	o.Wait = interp.WaitSkip
	sum, err := l.Run(context.Background(), p, o)
	if err != nil {
		t.Fatalf("%s on %s: %v", campaign, catalog, err)
	}
	if sum.Status != "succeeded" {
		t.Fatalf("%s on %s: %s %s", campaign, catalog, sum.Status, sum.Reason)
	}
	return sum
}

// covered reports whether every targeting and data activity of a campaign
// has an Athena lowering; it returns the first that has not.
func covered(t *testing.T, file string) (string, bool) {
	p, diags := builtin.CompileFiles(file, "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	reg := builtin.Registry()
	for _, id := range p.Order {
		a, _ := p.Campaign.Activity(id)
		spec, _ := reg.Lookup(a.Type)
		if (spec.Family == activity.Targeting || spec.Family == activity.Data) && !spec.OnAthena {
			return id, false
		}
	}
	return "", true
}

// Every example and bench campaign (bench/campaigns: segments, leads; the
// bench's reference campaign is examples/reference.yaml) whose activities
// are all covered gives the same counts on every transition with engine:
// athena (Trino SQL on DuckDB) as with duckdb; every other is refused with
// the activity named.
//
// STEPWISE_ATHENA_CUSTOMERS=1000000 runs it at that size (the figure in
// docs/decisions.md).
func TestExamplesAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(3000))
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	ran := 0
	// Every example and bench campaign has all its activities on Athena:
	// each must run there.
	mustRun := map[string]bool{}
	for _, name := range []string{"birthday", "import", "leads", "newsletter", "reference", "segments", "winback"} {
		mustRun[name+".yaml"] = true
	}
	for _, f := range files {
		name := filepath.Base(f)
		if strings.HasPrefix(name, "catalog") {
			continue
		}
		id, ok := covered(t, f)
		if ok {
			// Every condition lowers to Trino: covered types compile.
			if _, diags := builtin.CompileFiles(f, filepath.Join(dir, "catalog-athena.yaml")); diags.HasErrors() {
				t.Errorf("%s on athena: %v", name, diags)
				continue
			}
		}
		if !ok {
			_, diags := builtin.CompileFiles(f, filepath.Join(dir, "catalog-athena.yaml"))
			if !diags.HasErrors() || !strings.Contains(diags.Error(), "activity "+id+" (") || !strings.Contains(diags.Error(), "not yet on athena") {
				t.Errorf("%s on athena: want a not-yet-on-athena error naming %s, got %v", name, id, diags)
			}
			t.Logf("%s: refused on athena at %s", name, id)
			continue
		}
		ran++
		delete(mustRun, name)
		// One run id for both: random draws (winback's sample) are seeded
		// by it and draw the same rows on both engines.
		id = state.NewRunID()
		duck := runAs(t, dir, name, "catalog.yaml", "home-duckdb-"+name, now, true, id)
		ath := runAs(t, dir, name, "catalog-athena.yaml", "home-athena-"+name, now, true, id)
		if !reflect.DeepEqual(ports(duck), ports(ath)) {
			t.Errorf("%s: counts differ\nduckdb %v\nathena %v", name, ports(duck), ports(ath))
		}
		// Each covered activity's active ports are the UNLOADs' output, and
		// previewed as the DuckDB run's.
		p, _ := builtin.CompileFiles(f, "")
		reg := builtin.Registry()
		duckView, athView := previewer(t, filepath.Join(dir, "home-duckdb-"+name)), previewer(t, filepath.Join(dir, "home-athena-"+name))
		for id, a := range ath.Activities {
			act, _ := p.Campaign.Activity(id)
			if spec, _ := reg.Lookup(act.Type); !spec.OnAthena || act.Type == "load-file" {
				continue // load-file reads its file in its function on both engines
			}
			for port := range a.Ports {
				if _, err := os.Stat(filepath.Join(dir, "home-athena-"+name, "blob", "runs", ath.RunID, id, port, "manifest.json")); err != nil {
					continue // the inbound dataset, passed on (save-audience)
				}
				unloaded, _ := filepath.Glob(filepath.Join(dir, "home-athena-"+name, "blob", "runs", ath.RunID, id, port, "athena", "part-*"))
				if len(unloaded) != 1 {
					t.Errorf("%s: %s.%s: %d UNLOAD outputs, want 1", name, id, port, len(unloaded))
				}
				samePreview(t, duckView, athView, "runs/"+ath.RunID+"/"+id+"/"+port)
			}
		}
		t.Logf("%s: %v", name, ports(ath))
	}
	if ran == 0 {
		t.Fatal("no example runs on athena")
	}
	for name := range mustRun {
		t.Errorf("%s did not run on athena", name)
	}
}

// customers is STEPWISE_ATHENA_CUSTOMERS when set, else def.
func customers(def int) int {
	if n, err := strconv.Atoi(os.Getenv("STEPWISE_ATHENA_CUSTOMERS")); err == nil && n > 0 {
		return n
	}
	return def
}

func ports(s *runner.Summary) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for id, a := range s.Activities {
		out[id] = a.Ports
	}
	return out
}

func mustRead(t *testing.T, f string) string {
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
