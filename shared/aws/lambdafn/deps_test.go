package lambdafn_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

const module = "github.com/stepwise-run/stepwise/"

// Each function links what it runs and no more: handlers read the runtime
// plan, so only the API links the compiler; a function links its own
// activity family only; flow, run-level and trigger functions link no
// DuckDB (no cgo).
func TestFunctionDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Deps " "}}`, "../../../functions/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string]map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		set := map[string]bool{}
		for _, d := range f[1:] {
			set[d] = true
		}
		deps[strings.TrimPrefix(f[0], module+"functions/")] = set
	}
	families := map[string]string{"targeting": "shared/activity/targeting", "data": "shared/activity/data",
		"channel": "shared/activity/channel", "flow": "shared/activity/flow"}
	fns := lambdafn.Functions(builtin.Registry())
	if len(deps) != len(fns) {
		t.Errorf("%d function mains, %d functions", len(deps), len(fns))
	}
	for _, fn := range fns {
		d, ok := deps[fn.Dir]
		if !ok {
			t.Errorf("%s: no main in functions/%s", fn.Name, fn.Dir)
			continue
		}
		if fn.Family != lambdafn.FamilyAPI && d[module+"shared/compile"] {
			t.Errorf("%s links the compiler", fn.Name)
		}
		for fam, pkg := range families {
			own := fam == fn.Family || fam == "data" && fn.Family == "targeting" || fam == "targeting" && fn.Family == "data"
			if d[module+pkg] && !own && fn.Family != lambdafn.FamilyAPI {
				t.Errorf("%s (%s) links the %s family", fn.Name, fn.Family, fam)
			}
		}
		cgo := d["github.com/duckdb/duckdb-go/v2"]
		if wants := fn.Family == "targeting" || fn.Family == "data" || fn.Family == "channel" || fn.Family == lambdafn.FamilyAPI || fn.Family == lambdafn.FamilyFeedback; cgo && !wants {
			t.Errorf("%s (%s) links DuckDB", fn.Name, fn.Family)
		}
	}
}
