package compile_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
)

var update = flag.Bool("update", false, "rewrite the golden files: statemachines/ from the examples, testdata/diag and testdata/activities")

// Examples are the example campaigns whose ASL is committed under statemachines/.
var Examples = []string{"winback", "import", "newsletter", "reference", "birthday"}

// The committed state machines are the golden files: a test fails if they are
// stale, and `make statemachines` (go test -update) rewrites them.
func TestStateMachinesGolden(t *testing.T) {
	for _, name := range Examples {
		p, diags := builtin.CompileFiles("../../examples/"+name+".yaml", "")
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		path := filepath.Join("../../statemachines", p.Campaign.ID+".asl.json")
		if *update {
			if err := os.WriteFile(path, p.JSON, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run `make statemachines`)", name, err)
		}
		if !bytes.Equal(want, p.JSON) {
			t.Errorf("%s is stale: run `make statemachines` and review the diff", path)
		}
	}
}

// Compiling twice gives the same bytes.
func TestDeterministic(t *testing.T) {
	for _, name := range Examples {
		var first []byte
		for i := 0; i < 5; i++ {
			p, diags := builtin.CompileFiles("../../examples/"+name+".yaml", "")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if i == 0 {
				first = p.JSON
			} else if !bytes.Equal(first, p.JSON) {
				t.Fatalf("%s: compile %d differs from the first", name, i)
			}
		}
	}
}

var forbidden = regexp.MustCompile(`"(QueryLanguage|JSONata|Assign|ItemReader|ItemBatcher|ResultWriter|Arguments|Output)"\s*:|\{%|arn:aws:states:::`)

// subsetErr reports a construct outside the subset both Step Functions and
// aws-local-stepfunctions execute.
func subsetErr(data []byte) error {
	if m := forbidden.Find(data); m != nil {
		return fmt.Errorf("forbidden construct: %s", m)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if len(data) > 1<<20 {
		return fmt.Errorf("definition is %d bytes; Step Functions allows 1 MiB", len(data))
	}
	return nil
}

func TestSubsetOnly(t *testing.T) {
	for _, name := range Examples {
		p, diags := builtin.CompileFiles("../../examples/"+name+".yaml", "")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		if err := subsetErr(p.JSON); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, bad := range []string{`{"QueryLanguage": "JSONata"}`, `{"Assign": {}}`, `{"ItemReader": {}}`, `{"Resource": "arn:aws:states:::lambda:invoke"}`} {
		if subsetErr([]byte(bad)) == nil {
			t.Errorf("subsetErr missed %s", bad)
		}
	}
}

// Substitute fills the ARN placeholders as SAM DefinitionSubstitutions would.
func Substitute(data []byte) []byte {
	re := regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`)
	return re.ReplaceAll(data, []byte("arn:aws:lambda:us-east-1:123456789012:function:stepwise-$1"))
}
