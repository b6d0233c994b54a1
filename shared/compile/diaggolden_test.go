package compile_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// Each testdata/diag/NAME.yaml compiles to exactly the diagnostics in
// NAME.diag, as `stepwise validate` prints them: every problem, once, in file
// order. `go test -update` rewrites the .diag files (review the diff).
func TestDiagnosticGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/diag/*.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/diag/*.yaml")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			// The catalog declares its columns; its sources are not read
			// (they are not there): the goldens hold the campaign's diagnostics.
			_, diags := compile.CompileFiles(context.Background(), f, "testdata/catalog.yaml", builtin.Registry(), builtin.Checkers(), nil)
			got := printed(diags)
			golden := strings.TrimSuffix(f, ".yaml") + ".diag"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s:\ngot:\n%swant:\n%s", golden, got, want)
			}
		})
	}
}
