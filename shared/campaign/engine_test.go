package campaign_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

const engineTables = `tables:
  - name: customers
    key: [id]
    source: data
    columns: [{ name: id, type: string }]
`

func TestEngineSettings(t *testing.T) {
	athena := "athena: { workgroup: primary, database: stepwise, outputLocation: s3://b/athena/ }\n"
	for _, c := range []struct{ name, head, want string }{
		{"default", "", ""},
		{"duckdb", "engine: duckdb\n", ""},
		{"athena", "engine: athena\n" + athena, ""},
		{"auto", "engine: auto\n" + athena, ""},
		{"unknown", "engine: athenna\n", `engine: unknown engine "athenna" (did you mean "athena"?)`},
		{"no block", "engine: athena\n", "engine: engine athena needs an athena block"},
		{"no workgroup", "engine: athena\nathena: { database: stepwise, outputLocation: s3://b/x/ }\n", "athena.workgroup: athena needs a workgroup"},
		{"bad database", "engine: athena\nathena: { workgroup: w, database: My-DB, outputLocation: s3://b/x/ }\n", `athena.database: Glue database "My-DB"`},
		{"local output", "engine: athena\nathena: { workgroup: w, database: d, outputLocation: /tmp/x }\n", `athena.outputLocation: outputLocation "/tmp/x" must be an s3:// URI`},
		{"negative auto", "engine: auto\nathena: { workgroup: w, database: d, outputLocation: s3://b/, autoAboveBytes: -1 }\n", "athena.autoAboveBytes: autoAboveBytes must be positive"},
		{"unknown field", "athena: { workgroup: w, database: d, outputLocation: s3://b/, region: x }\n", "athena.region"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, diags := campaign.ParseCatalog("/c/catalog.yaml", []byte("version: 1\n"+c.head+engineTables))
			got := fmt.Sprint(diags)
			if c.want == "" && diags.HasErrors() {
				t.Fatalf("want valid, got %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("want %q in\n%s", c.want, got)
			}
		})
	}
}

func TestEngineFor(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "data", "a.parquet"), make([]byte, 3000), 0o644)
	cat, diags := campaign.ParseCatalog(filepath.Join(dir, "catalog.yaml"),
		[]byte("version: 1\nengine: auto\nathena: { workgroup: w, database: d, outputLocation: s3://b/, autoAboveBytes: 2000 }\n"+engineTables))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	tbl, _ := cat.Table("customers")
	n, known := cat.SourceBytes(tbl)
	if n != 3000 || !known {
		t.Fatalf("SourceBytes = %d %v, want 3000 true", n, known)
	}
	if e := cat.EngineFor(n, known); e != campaign.EngineAthena {
		t.Errorf("auto above the threshold: %s, want athena", e)
	}
	if e := cat.EngineFor(1000, true); e != campaign.EngineDuckDB {
		t.Errorf("auto below the threshold: %s, want duckdb", e)
	}
	if e := cat.EngineFor(1<<40, false); e != campaign.EngineDuckDB {
		t.Errorf("auto, size unknown: %s, want duckdb", e)
	}
	if err := cat.OverrideEngine("athena"); err != nil || cat.EngineFor(0, true) != campaign.EngineAthena {
		t.Errorf("override athena: %v, %s", err, cat.EngineFor(0, true))
	}
	if err := cat.OverrideEngine("spark"); err == nil || !strings.Contains(err.Error(), `unknown engine "spark"`) {
		t.Errorf("override spark: %v", err)
	}
	plain, _ := campaign.ParseCatalog("/c/catalog.yaml", []byte("version: 1\n"+engineTables))
	if err := plain.OverrideEngine("athena"); err == nil || !strings.Contains(err.Error(), "athena settings") {
		t.Errorf("override without settings: %v", err)
	}
}
