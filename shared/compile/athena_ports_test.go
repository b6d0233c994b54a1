package compile_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
)

// An activity with several ports on Athena runs one query state per port,
// in turn, each reading its own statement, then records them all; the
// machine passes asl-validator.
func TestAthenaQueryPerPort(t *testing.T) {
	dir := t.TempDir()
	cat, err := os.ReadFile("../../examples/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../../examples")
	cat = bytes.ReplaceAll(cat, []byte("source: data/"), []byte("source: "+abs+"/data/"))
	if err := os.WriteFile(filepath.Join(dir, "catalog.yaml"), append(cat, athenaSettings...), 0o644); err != nil {
		t.Fatal(err)
	}
	const src = `version: 1
id: athena-ports
dimension: customers
timezone: UTC
activities:
  - { id: all, type: build-audience }
  - { id: dd, type: deduplication, from: all, by: [email], complement: true }
  - id: parts
    type: split
    from: dd
    segments:
      - { name: gold, where: { field: tier, op: eq, value: gold } }
      - { name: some, limit: { percent: 10 } }
    others: true
`
	if err := os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p, diags := builtin.CompileFiles(filepath.Join(dir, "c.yaml"), filepath.Join(dir, "catalog.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var m struct {
		States map[string]struct {
			Next, Default string
			Parameters    map[string]any
		}
	}
	if err := json.Unmarshal(p.JSON, &m); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id    string
		ports int
	}{{"all", 1}, {"dd", 2}, {"parts", 3}} {
		name := c.id + ":query"
		for i := 1; i <= c.ports; i++ {
			st, ok := m.States[name]
			if !ok {
				t.Fatalf("%s: no state %s", c.id, name)
			}
			want := "$.r." + c.id + ".extra.query"
			if i > 1 {
				want += string(rune('0' + i))
			}
			if got := st.Parameters["QueryString.$"]; got != want {
				t.Errorf("%s: QueryString.$ %v, want %s", name, got, want)
			}
			name = c.id + ":query" + string(rune('0'+i+1))
			if i == c.ports {
				name = c.id + ":finish"
			}
			if st.Next != name {
				t.Errorf("%s: Next %s, want %s", c.id, st.Next, name)
			}
		}
	}
	validateASL(t, aslValidator(t), "athena-ports", p.JSON)
}
