package compile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// activityCases holds one folder per activity type:
//
//	CASE.yaml          a small campaign exercising the type; compiled, it gives
//	                   one golden file per caseOutputs entry (CASE.asl.json, …)
//	                   and CASE.diag.txt if it has warnings
//	CASE.invalid.yaml  a common mistake; CASE.diag.txt holds its diagnostics as
//	                   `stepwise validate` prints them
//
// Every registered type needs at least one case of each kind. Other files
// (templates, data files a case reads) are left alone.
const activityCases = "testdata/activities"

// caseOutput is a golden file compiled from each valid case: CASE+suffix.
type caseOutput struct {
	suffix string
	render func(*compile.Program) ([]byte, error)
}

// caseOutputs are the files each valid case is compiled to.
var caseOutputs = []caseOutput{
	{".asl.json", func(p *compile.Program) ([]byte, error) { return p.JSON, nil }},
	{".plan.json", planFacts},
}

// planFacts renders what the runtime plan decides about each activity and
// the state names observers read (the campaign and catalog it carries are
// the case's own files).
func planFacts(p *compile.Program) ([]byte, error) {
	b, err := json.MarshalIndent(map[string]any{"digest": p.Bundle.Digest, "activities": p.Plan.Activities, "schemas": p.Plan.Schemas, "states": p.States}, "", "  ")
	return append(b, '\n'), err
}

const (
	invalidSuffix = ".invalid.yaml"
	diagSuffix    = ".diag.txt"
)

// TestActivityGoldens compiles every case (compile only, no run) and compares
// each output with its golden file; `go test -update` rewrites them and
// removes goldens no case produces (review the diff).
func TestActivityGoldens(t *testing.T) {
	reg := builtin.Registry()
	dirs, err := os.ReadDir(activityCases)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		typ := d.Name()
		have[typ] = true
		if _, ok := reg.Lookup(typ); !ok {
			t.Errorf("%s: no activity type %q is registered", filepath.Join(activityCases, typ), typ)
			continue
		}
		t.Run(typ, func(t *testing.T) { checkActivityCases(t, typ) })
	}
	for _, typ := range reg.Types() {
		if !have[typ] {
			t.Errorf("activity type %s has no cases: add %s/%s/CASE.yaml and CASE%s", typ, activityCases, typ, invalidSuffix)
		}
	}
}

func checkActivityCases(t *testing.T, typ string) {
	dir := filepath.Join(activityCases, typ)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var valid, invalid []string
	goldens := map[string]bool{} // golden files present, by name
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
		case strings.HasSuffix(name, invalidSuffix):
			invalid = append(invalid, strings.TrimSuffix(name, invalidSuffix))
		case strings.HasSuffix(name, ".yaml"):
			valid = append(valid, strings.TrimSuffix(name, ".yaml"))
		case isGolden(name):
			goldens[name] = true
		}
	}
	if len(valid) == 0 || len(invalid) == 0 {
		t.Errorf("%s needs at least one CASE.yaml and one CASE%s", dir, invalidSuffix)
	}
	produced := map[string]bool{}
	produce := func(name string) bool {
		if produced[name] {
			t.Errorf("%s: two cases write %s: rename one", dir, name)
			return false
		}
		produced[name] = true
		return true
	}
	for _, c := range valid {
		t.Run(c, func(t *testing.T) {
			file := filepath.Join(dir, c+".yaml")
			p, diags := compileCase(file)
			if diags.HasErrors() {
				t.Fatalf("%s is invalid:\n%s", file, printed(diags))
			}
			if !hasType(p, typ) {
				t.Fatalf("%s has no %s activity", file, typ)
			}
			for _, o := range caseOutputs {
				data, err := o.render(p)
				if err != nil {
					t.Fatalf("%s: %s: %v", file, o.suffix, err)
				}
				if produce(c + o.suffix) {
					checkGolden(t, filepath.Join(dir, c+o.suffix), data)
				}
			}
			if len(diags) > 0 && produce(c+diagSuffix) {
				checkGolden(t, filepath.Join(dir, c+diagSuffix), []byte(printed(diags)))
			}
		})
	}
	for _, c := range invalid {
		t.Run(c+".invalid", func(t *testing.T) {
			file := filepath.Join(dir, c+invalidSuffix)
			p, diags := compileCase(file)
			if !diags.HasErrors() {
				t.Fatalf("%s is valid; an invalid case must have an error", file)
			}
			if !hasType(p, typ) {
				t.Fatalf("%s has no %s activity (or does not load):\n%s", file, typ, printed(diags))
			}
			if produce(c + diagSuffix) {
				checkGolden(t, filepath.Join(dir, c+diagSuffix), []byte(printed(diags)))
			}
		})
	}
	for _, name := range slices.Sorted(maps.Keys(goldens)) {
		if produced[name] {
			continue
		}
		path := filepath.Join(dir, name)
		if *update {
			if err := os.Remove(path); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("%s: no case produces it (run go test -update to remove it)", path)
	}
}

// compileCase compiles a case against the test catalog, whose declared
// columns are the schema (its sources are not read).
func compileCase(file string) (*compile.Program, campaign.Diagnostics) {
	return compile.CompileFiles(context.Background(), file, "testdata/catalog.yaml", builtin.Registry(), builtin.Checkers(), nil)
}

// printed gives the diagnostics as `stepwise validate` prints them.
func printed(diags campaign.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintln(&b, d.String())
	}
	return b.String()
}

func hasType(p *compile.Program, typ string) bool {
	if p == nil || p.Campaign == nil {
		return false
	}
	for _, a := range p.Campaign.Activities {
		if a.Type == typ {
			return true
		}
	}
	return false
}

func isGolden(name string) bool {
	if strings.HasSuffix(name, diagSuffix) {
		return true
	}
	for _, o := range caseOutputs {
		if strings.HasSuffix(name, o.suffix) {
			return true
		}
	}
	return false
}

// checkGolden compares got with the golden file path, or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Error(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v (run go test ./shared/compile -run TestActivityGoldens -update)", err)
		return
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (-golden +got; go test -update rewrites it):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff returns the changed lines of a and b, with up to 3 lines of
// context, in the style of a unified diff.
func lineDiff(a, b string) string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// lcs[i][j] is the length of the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
		at   int // line number in a (or b for an insertion), from 1
	}
	var lines []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			lines = append(lines, line{' ', x[i], i + 1})
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			lines = append(lines, line{'-', x[i], i + 1})
			i++
		default:
			lines = append(lines, line{'+', y[j], j + 1})
			j++
		}
	}
	const context = 3
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.op != ' ' {
			for m := max(k-context, 0); m <= min(k+context, len(lines)-1); m++ {
				show[m] = true
			}
		}
	}
	var out strings.Builder
	for k, l := range lines {
		if !show[k] {
			continue
		}
		if k == 0 || !show[k-1] {
			fmt.Fprintf(&out, "@@ line %d\n", l.at)
		}
		fmt.Fprintf(&out, "%c%s\n", l.op, l.text)
	}
	return out.String()
}
