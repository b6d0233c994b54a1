package executor_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
)

const schemaCampaign = `version: 1
id: schema-e2e
dimension: customers
activities:
  - id: buyers
    type: build-audience
    where:
      all:
        - { field: emailOptIn, op: eq, value: OPTIN_VALUE }
        - { field: EMAIL_FIELD, op: isNotEmpty }
        - { link: purchases, aggregate: count, op: gte, value: 3 }
        - { link: purchases, aggregate: sum, field: amount, op: gte, value: 100 }
  - id: mail
    type: email
    from: buyers
    purpose: marketing
    message:
      from: "Shop <news@shop.example>"
      subject: "Hello {{ recipient.NAME_FIELD }}"
      text: "Unsubscribe: {{ message.unsubscribeUrl }}"
`

// sampleWithSourceSchemas writes the sample data set and two catalogs:
// catalog.yaml as generated (columns declared) and source.yaml, the same
// without the columns of customers and purchases, read from their Parquet
// footers.
func sampleWithSourceSchemas(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	// The reference date only anchors the generated dates; nothing below
	// compares them with the clock.
	if err := sampledata.Generate(context.Background(), dir, sampledata.Options{Customers: 300, Seed: 7, Today: time.Unix(1_700_000_000, 0)}); err != nil {
		t.Fatal(err)
	}
	declared, err := os.ReadFile(filepath.Join(dir, "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The columns block of customers ends at targeting:, that of purchases at links:.
	noCols := regexp.MustCompile(`(?s)(source: (?:customers|purchases)\.parquet\n)    columns:\n.*?(\n    (?:targeting|links):)`)
	stripped := noCols.ReplaceAllString(string(declared), "$1$2")
	if strings.Count(stripped, "    columns:") != 1 {
		t.Fatalf("expected only the stores' columns left:\n%s", stripped)
	}
	if err := os.WriteFile(filepath.Join(dir, "source.yaml"), []byte(stripped), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeCampaign(t *testing.T, dir, name, emailField, nameField, optIn string) string {
	t.Helper()
	text := strings.NewReplacer("EMAIL_FIELD", emailField, "NAME_FIELD", nameField, "OPTIN_VALUE", optIn).Replace(schemaCampaign)
	f := filepath.Join(dir, name)
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// A catalog that declares no columns for customers and purchases reads them
// from the Parquet footers: validate reports a misspelled column and a
// misspelled template name and a value of the wrong type at their lines,
// as with declared columns, and
// the correct campaign runs with the same counts as with declared columns.
func TestColumnsFromParquetSources(t *testing.T) {
	dir := sampleWithSourceSchemas(t)
	bad := writeCampaign(t, dir, "bad.yaml", "emial", "fristName", "maybe")
	for _, catalog := range []string{"catalog.yaml", "source.yaml"} {
		_, diags := builtin.CompileFiles(bad, filepath.Join(dir, catalog))
		var got []string
		for _, d := range diags {
			got = append(got, strings.TrimPrefix(d.String(), dir+"/"))
		}
		want := []string{
			`bad.yaml:9:47 activities[0].where.all[0].value: boolean column "emailOptIn" needs true or false, got "maybe"`,
			`bad.yaml:10:20 activities[0].where.all[1].field: unknown column "emial" in customers rows (did you mean "email"?)`,
			`bad.yaml:19:16 activities[1].message.subject: line 1: unknown name "recipient.fristName" (did you mean "recipient.firstName"?)`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: diagnostics:\n%s\nwant:\n%s", catalog, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	good := writeCampaign(t, dir, "good.yaml", "email", "firstName", "true")
	counts := map[string]map[string]int64{}
	for _, catalog := range []string{"catalog.yaml", "source.yaml"} {
		sum := testRun(t, good, filepath.Join(dir, catalog))
		counts[catalog] = map[string]int64{}
		for id, a := range sum.Activities {
			for port, n := range a.Ports {
				counts[catalog][id+"."+port] = n
			}
		}
	}
	d, s := counts["catalog.yaml"], counts["source.yaml"]
	if d["buyers.out"] == 0 || d["mail.out"] == 0 || len(d) != len(s) {
		t.Fatalf("declared columns: %v; source columns: %v", d, s)
	}
	for k, n := range d {
		if s[k] != n {
			t.Errorf("%s: %d with declared columns, %d with source columns", k, n, s[k])
		}
	}
}

// Validating twice reads each footer once; a file that changes is read
// again. The executor's loader shares the validator's probe.
func TestSourceSchemasCachedAcrossValidations(t *testing.T) {
	dir := sampleWithSourceSchemas(t)
	good := writeCampaign(t, dir, "good.yaml", "email", "firstName", "true")
	var opens atomic.Int64
	probe := &dataset.SchemaProbe{Open: func(path string) (dataset.ReadAtCloser, error) {
		opens.Add(1)
		return os.Open(path)
	}}
	validate := func() {
		t.Helper()
		_, diags := compile.CompileFiles(context.Background(), good, filepath.Join(dir, "source.yaml"), builtin.Registry(), builtin.Checkers(), probe)
		if len(diags) > 0 {
			t.Fatal(diags)
		}
	}
	validate()
	if opens.Load() != 3 { // customers, purchases, stores (declared, checked)
		t.Fatalf("first validation read %d footers", opens.Load())
	}
	validate()
	if opens.Load() != 3 {
		t.Fatalf("second validation read %d more footers", opens.Load()-3)
	}
	file := filepath.Join(dir, "customers.parquet")
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	mod := fi.ModTime().Add(time.Minute)
	if err := os.Chtimes(file, mod, mod); err != nil {
		t.Fatal(err)
	}
	validate()
	if opens.Load() != 4 {
		t.Fatalf("after customers.parquet changed: %d footers read in all, want 4", opens.Load())
	}

	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Compiler.Schemas != builtin.Schemas() {
		t.Fatal("the executor does not share the process's schema probe")
	}
}

// A typed CSV header is a schema: a table read from one needs no declared
// columns, and a run reads its cells as their types; a CSV without types
// needs them, reported at its source: line.
func TestColumnsFromTypedCSV(t *testing.T) {
	dir := sampleWithSourceSchemas(t)
	e, err := dataset.New(dataset.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	stores := dataset.QuoteLiteral(filepath.Join(dir, "stores.parquet"))
	for file, query := range map[string]string{
		"stores.csv": `SELECT storeId AS "storeId:string", name AS "name:string", city AS "city:string", country AS "country:string",
			timezone AS "timezone:string", format AS "format:string", openedOn AS "openedOn:date" FROM read_parquet(` + stores + `)`,
		"plain.csv": `SELECT storeId, city FROM read_parquet(` + stores + `)`,
	} {
		if err := e.Exec(context.Background(), "COPY ("+query+") TO "+dataset.QuoteLiteral(filepath.Join(dir, file))+" (HEADER)"); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile(filepath.Join(dir, "source.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	noCols := regexp.MustCompile(`(?s)source: stores\.parquet\n    columns:\n.*?(\n    links:)`)
	csvCatalog := noCols.ReplaceAllString(string(src), "source: stores.csv$1")
	if strings.Contains(csvCatalog, "columns:") {
		t.Fatalf("expected no declared columns left:\n%s", csvCatalog)
	}
	os.WriteFile(filepath.Join(dir, "csv.yaml"), []byte(csvCatalog), 0o644)
	os.WriteFile(filepath.Join(dir, "plain.yaml"), []byte(csvCatalog+"  - { name: plain, key: [storeId], source: plain.csv }\n"), 0o644)
	camp := filepath.Join(dir, "fr.yaml")
	os.WriteFile(camp, []byte(`version: 1
id: schema-csv
dimension: customers
activities:
  - id: french
    type: build-audience
    where:
      all:
        - { field: store.country, op: eq, value: FR }
        - { field: store.openedOn, op: lt, value: { ahead: 1d } }   # a date column: a string would not compare
`), 0o644)

	_, diags := builtin.CompileFiles(camp, filepath.Join(dir, "plain.yaml"))
	line := strings.Count(csvCatalog, "\n") + 1
	want := fmt.Sprintf(`plain.yaml:%d:44 tables[3].source: table "plain": the source carries no column types (the CSV header names no types; type it as name:type); declare its columns`, line)
	if len(diags) != 1 || strings.TrimPrefix(diags[0].String(), dir+"/") != want {
		t.Fatalf("untyped csv: %v\nwant %s", diags, want)
	}

	counts := map[string]int64{}
	for _, catalog := range []string{"source.yaml", "csv.yaml"} {
		sum := testRun(t, camp, filepath.Join(dir, catalog))
		counts[catalog] = sum.Activities["french"].Ports["out"]
	}
	if counts["source.yaml"] == 0 || counts["csv.yaml"] != counts["source.yaml"] {
		t.Fatalf("french customers: %v", counts)
	}
}

// testRun compiles a campaign against a catalog, without diagnostics, and runs
// it in test mode on a fresh home; the run must succeed.
func testRun(t *testing.T, campaignFile, catalog string) *runner.Summary {
	t.Helper()
	p, diags := builtin.CompileFiles(campaignFile, catalog)
	if len(diags) > 0 {
		t.Fatalf("%s: %v", catalog, diags)
	}
	l, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sum, err := l.Run(context.Background(), p, executor.Options{Test: true, Wait: interp.WaitSkip})
	if err != nil || sum.Status != "succeeded" {
		t.Fatalf("%s: %v %+v", catalog, err, sum)
	}
	return sum
}
