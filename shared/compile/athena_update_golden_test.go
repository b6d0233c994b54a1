package compile_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// athenaUpdateCampaign loads a file and upserts it into customers: load-file
// in its function, update-data as Athena statements, beside an alert (one
// level: a Parallel, whose branches name their port states "x:out").
const athenaUpdateCampaign = `version: 1
id: athena-update
dimension: customers
activities:
  - id: rows
    type: load-file
    file: files/leads.csv
    format: csv
    csv: { header: true }
    columns:
      - { name: customerId, type: string }
      - { name: newTier, source: tier, type: string }
  - id: upsert
    type: update-data
    from: rows
    table: customers
    operation: upsert
    key: { customerId: customerId }
    set:
      tier: { field: newTier }
      emailOptIn: true
  - id: badRows
    type: alert
    from: rows.rejects
    title: Bad rows
    message: Some rows of the file were rejected.
`

func compileAthenaUpdate(t *testing.T, onError string) *compile.Program {
	t.Helper()
	dir := filepath.Dir(compileAthena(t, "newsletter", "").Catalog.File)
	src := athenaUpdateCampaign
	if onError != "" {
		src += "onError: " + onError + "\n"
	}
	os.WriteFile(filepath.Join(dir, "athena-update.yaml"), []byte(src), 0o644)
	p, diags := builtin.CompileFiles(filepath.Join(dir, "athena-update.yaml"), filepath.Join(dir, "catalog.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// The machine of update-data on Athena: plan → route → (resync: delete →
// load) → out → rejects → counts → apply? → merge → version → finish (each
// statement's state "x:query <name>": "x:out" is the compiler's).
func TestAthenaUpdateGolden(t *testing.T) {
	p := compileAthenaUpdate(t, "")
	path := "testdata/athena-update.asl.json"
	if *update {
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
	for _, s := range []string{`"upsert:query merge"`, `"upsert:query out"`, `"QueryString.$": "$.r.upsert.extra.merge"`, `"Variable": "$.r.upsert.extra.sync"`,
		`"Variable": "$.r.upsert.extra.apply"`, `"Error": "AthenaQueryFailed"`} {
		if !strings.Contains(string(p.JSON), s) {
			t.Errorf("the machine lacks %s", s)
		}
	}
	bin := aslValidator(t)
	for _, policy := range []string{"", "ignore", "suspend"} {
		validateASL(t, bin, "athena-update-"+policy, compileAthenaUpdate(t, policy).JSON)
	}
}
