package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/api"
)

// A valid campaign's validate output ends with the line `stepwise validate`
// prints for it, as a stored draft and as a document.
func TestValidateOutputOfValid(t *testing.T) {
	e := newEnv(t, time.Hour)
	src := source(t)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": src}), 201, "create a valid draft")
	v := e.expect(e.do("POST", "/v1/campaigns/flow-only/validate", nil), 200, "validate")

	dir := t.TempDir()
	file := filepath.Join(dir, "flow-only.yaml")
	os.WriteFile(file, []byte(src), 0o644)
	cat, _ := os.ReadFile("testdata/catalog.yaml")
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), cat, 0o644)
	p, diags := builtin.CompileFiles(file, "")
	if p == nil || diags.HasErrors() {
		t.Fatalf("the CLI finds the draft invalid: %v", diags)
	}
	var cli strings.Builder
	for _, d := range diags {
		cli.WriteString(strings.TrimPrefix(d.String(), dir+"/") + "\n")
	}
	summary := api.ValidSummary("flow-only.yaml", len(p.Campaign.Activities))
	cli.WriteString(summary + "\n")
	if v.body["valid"] != true || v.str("output") != cli.String() {
		t.Fatalf("validate output:\n%q\nCLI:\n%q", v.str("output"), cli.String())
	}
	if want := fmt.Sprintf("flow-only.yaml: valid (%d activities)", len(p.Campaign.Activities)); summary != want {
		t.Fatalf("summary line %q, want %q", summary, want)
	}

	vd := e.expect(e.do("POST", "/v1/validate", map[string]any{"source": src}), 200, "validate a document")
	if out := vd.str("output"); vd.body["valid"] != true || !strings.HasSuffix(out, "\n"+summary+"\n") {
		t.Fatalf("validate document output:\n%s", out)
	}
	// An invalid one has no summary line.
	bad := strings.Replace(src, "from: fan.b", "from: fan.c", 1)
	vb := e.expect(e.do("POST", "/v1/validate", map[string]any{"source": bad}), 200, "validate an invalid document")
	if out := vb.str("output"); vb.body["valid"] != false || strings.Contains(out, "valid (") {
		t.Fatalf("invalid document output:\n%s", out)
	}
}
