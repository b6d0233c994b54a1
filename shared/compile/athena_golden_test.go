package compile_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// athenaSettings turn the examples' catalog to engine: athena.
const athenaSettings = "\nengine: athena\nathena: { workgroup: stepwise, database: stepwise, outputLocation: s3://stepwise-athena-results/queries/ }\n"

// compileAthena compiles an example against the examples' catalog with
// engine: athena (and onError, when set).
func compileAthena(t *testing.T, name, onError string) *compile.Program {
	t.Helper()
	dir := t.TempDir()
	cat, err := os.ReadFile("../../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The examples' data through a link: the catalog's text (and so the
	// plan's digest in the golden) stays the same wherever the checkout is.
	abs, _ := filepath.Abs("../../examples/data")
	if err := os.Symlink(abs, filepath.Join(dir, "data")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "catalog.yaml"), append(cat, athenaSettings...), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("../../examples/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return compileAthenaSrc(t, dir, name, src, onError)
}

// compileAthenaSrc compiles a campaign's source in dir, whose catalog has
// engine: athena.
func compileAthenaSrc(t *testing.T, dir, name string, src []byte, onError string) *compile.Program {
	t.Helper()
	if onError != "" {
		src = append(src, "\nonError: "+onError+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	os.CopyFS(filepath.Join(dir, "templates"), os.DirFS("../../examples/templates"))
	p, diags := builtin.CompileFiles(filepath.Join(dir, name+".yaml"), filepath.Join(dir, "catalog.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// The Athena-engine goldens: examples/newsletter (build-audience, flow and
// channel activities) and examples/reference (enrichment, deduplication and
// split too) compiled with engine: athena.
func TestStateMachinesGoldenAthena(t *testing.T) {
	var p *compile.Program
	for _, name := range []string{"reference", "newsletter"} {
		p = compileAthena(t, name, "")
		path := "../../statemachines/" + p.Campaign.ID + ".athena.asl.json"
		if *update {
			if err := os.WriteFile(path, p.JSON, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run `make statemachines`)", err)
		}
		if !bytes.Equal(want, p.JSON) {
			t.Errorf("%s is stale: run `make statemachines` and review the diff", path)
		}
		if name == "reference" && !bytes.Contains(p.JSON, []byte(`"QueryString.$": "$.r.enriched.extra.query"`)) {
			t.Errorf("reference on athena: the enrichment runs no query")
		}
	}
	if *update {
		return
	}
	for _, s := range []string{`"Resource": "arn:aws:states:::athena:startQueryExecution.sync"`, `"QueryString.$": "$.r.subscribers.extra.query"`,
		`"Athena.TooManyRequestsException"`, `"Error": "AthenaQueryFailed"`, `"WorkGroup": "stepwise"`,
		// A channel's listed slices: a distributed Map reading them from S3.
		`"Variable": "$.r.sendMail.extra.sliceList"`, `"Mode": "DISTRIBUTED"`, `"ExecutionType": "STANDARD"`,
		`"Resource": "arn:aws:states:::s3:getObject"`, `"Key.$": "$.r.sendMail.extra.sliceList.key"`,
		`"Resource": "arn:aws:states:::s3:putObject"`, `"Prefix.$": "$.r.sendMail.extra.sliceList.results"`, `"list": true`} {
		if !strings.Contains(string(p.JSON), s) {
			t.Errorf("the Athena machine lacks %s", s)
		}
	}
}

// Athena states pass asl-validator, inside a level's Parallel and under
// every onError policy.
func TestASLValidatorAthena(t *testing.T) {
	bin := aslValidator(t)
	for _, policy := range []string{"", "ignore", "suspend"} {
		validateASL(t, bin, "newsletter-athena-"+policy, compileAthena(t, "newsletter", policy).JSON)
	}
	validateASL(t, bin, "reference-athena", compileAthena(t, "reference", "").JSON)
}

// The Athena states of reconciliation (a query per port), change-dimension,
// save-audience, read-audience and incremental-query, from the examples' catalog (golden:
// testdata/athena/dims.asl.json).
func TestStateMachinesGoldenAthenaDims(t *testing.T) {
	const src = `version: 1
id: athena-dims
dimension: customers
activities:
  - { id: big, type: build-audience, dimension: purchases, where: { field: amount, op: gte, value: 50 } }
  - { id: buyers, type: reconciliation, from: big, dimension: customers, match: [{ input: customerId, field: customerId }], keepUnmatched: true }
  - { id: stores, type: change-dimension, from: buyers, to: stores, via: store, keep: first }
  - { id: save, type: save-audience, from: buyers, audience: big-buyers }
  - { id: read, type: read-audience, audience: big-buyers }
  - { id: fresh, type: incremental-query, since: { field: signupAt } }
`
	dir := filepath.Dir(compileAthena(t, "newsletter", "").Catalog.File)
	p := compileAthenaSrc(t, dir, "dims", []byte(src), "")
	const path = "testdata/athena/dims.asl.json"
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, p.JSON, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `make goldens`)", err)
	}
	if !bytes.Equal(want, p.JSON) {
		t.Errorf("%s is stale: run `make goldens` and review the diff", path)
	}
	for _, s := range []string{`"buyers:query2"`, `"QueryString.$": "$.r.buyers.extra.query2"`, `"stores:query"`, `"save:query"`, `"read:query"`, `"fresh:query"`} {
		if !strings.Contains(string(p.JSON), s) {
			t.Errorf("the Athena machine lacks %s", s)
		}
	}
	bin := aslValidator(t)
	validateASL(t, bin, "athena-dims", p.JSON)
}

// A run's --engine overrides the catalog's: athena needs the athena block.
func TestCompileEngineOverride(t *testing.T) {
	p, diags := compile.CompileFilesEngine(context.Background(), "../../examples/newsletter.yaml", "", "athena", builtin.Registry(), builtin.Checkers(), nil)
	if p != nil || !strings.Contains(fmt.Sprint(diags), "engine: --engine: engine athena needs the catalog's athena settings") {
		t.Errorf("override without settings: %v", diags)
	}
	// With the settings and engine: duckdb, --engine athena emits the Athena states.
	dir := filepath.Dir(compileAthena(t, "newsletter", "").Catalog.File)
	cat, _ := os.ReadFile(filepath.Join(dir, "catalog.yaml"))
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), bytes.Replace(cat, []byte("engine: athena"), []byte("engine: duckdb"), 1), 0o644)
	for engine, want := range map[string]bool{"": false, "athena": true} {
		p, diags := compile.CompileFilesEngine(context.Background(), filepath.Join(dir, "newsletter.yaml"), "", engine, builtin.Registry(), builtin.Checkers(), nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if got := bytes.Contains(p.JSON, []byte("athena:startQueryExecution.sync")); got != want {
			t.Errorf("--engine %q: Athena states %v, want %v", engine, got, want)
		}
	}
}

// engine: auto puts a large table's build-audience on Athena, date
// conditions included (the Trino dialect lowers every condition); engine:
// athena compiles it.
func TestAutoPutsDateConditionsOnAthena(t *testing.T) {
	dir := filepath.Dir(compileAthena(t, "newsletter", "").Catalog.File)
	cat, _ := os.ReadFile(filepath.Join(dir, "catalog.yaml"))
	auto := bytes.Replace(cat, []byte("engine: athena"), []byte("engine: auto"), 1)
	auto = bytes.Replace(auto, []byte("outputLocation: s3://stepwise-athena-results/queries/"), []byte("outputLocation: s3://stepwise-athena-results/queries/, autoAboveBytes: 1"), 1)
	// customers' source: a file of some bytes (its size is what auto reads).
	os.WriteFile(filepath.Join(dir, "customers.parquet"), []byte("PAR1"), 0o644)
	auto = bytes.Replace(auto, []byte("source: data/customers.parquet"), []byte("source: customers.parquet"), 1)
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), auto, 0o644)
	src := `version: 1
id: auto
dimension: customers
activities:
  - { id: plain, type: build-audience, where: { field: emailOptIn, op: eq, value: true } }
  - { id: birthdays, type: build-audience, where: { field: birthDate, op: anniversary } }
`
	os.WriteFile(filepath.Join(dir, "auto.yaml"), []byte(src), 0o644)
	p, diags := builtin.CompileFiles(filepath.Join(dir, "auto.yaml"), "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	js := string(p.JSON)
	if !strings.Contains(js, `"plain:query"`) || !strings.Contains(js, `"birthdays:query"`) {
		t.Errorf("auto: want plain and birthdays on Athena")
	}
	_, diags = compile.CompileFilesEngine(context.Background(), filepath.Join(dir, "auto.yaml"), "", "athena", builtin.Registry(), builtin.Checkers(), nil)
	if diags.HasErrors() {
		t.Errorf("athena: %v", diags)
	}
}
