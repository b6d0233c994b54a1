package compile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
)

// aslValidator returns the path of the npm asl-validator, installed by
// infra/setup.sh. Without it the test is skipped locally and fails in CI.
func aslValidator(t *testing.T) string {
	t.Helper()
	bin, _ := filepath.Abs("../../infra/tools/node_modules/.bin/asl-validator")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("asl-validator is not installed (%v): .ci/run must run infra/setup.sh", err)
		}
		t.Skip("asl-validator not installed: run infra/setup.sh")
	}
	return bin
}

func validateASL(t *testing.T, bin, name string, data []byte) {
	t.Helper()
	f := filepath.Join(t.TempDir(), name+".asl.json")
	if err := os.WriteFile(f, Substitute(data), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--json-path", f).CombinedOutput()
	if err != nil {
		t.Errorf("%s: asl-validator rejected it: %v\n%s", name, err, out)
	}
}

// Every compiled example passes asl-validator (exit 0).
func TestASLValidator(t *testing.T) {
	bin := aslValidator(t)
	for _, name := range Examples {
		p, diags := builtin.CompileFiles("../../examples/"+name+".yaml", "")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		validateASL(t, bin, name, p.JSON)
	}
	// The onError variants emit extra paths; validate them too.
	for _, policy := range []string{"ignore", "suspend"} {
		src, err := os.ReadFile("../../examples/winback.yaml")
		if err != nil {
			t.Fatal(err)
		}
		p, diags := compileSrcDir(t, append(src, []byte("\nonError: "+policy+"\n")...), "../../examples")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		validateASL(t, bin, "winback-"+policy, p.JSON)
	}
}
