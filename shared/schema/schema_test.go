package schema_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/schema"
)

var update = flag.Bool("update", false, "rewrite docs/schema")

const dir = "../../docs/schema"

// The committed schemas must be what the Go types generate.
func TestCommittedSchemasFresh(t *testing.T) {
	camp, err := schema.Campaign(builtin.Registry())
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schema.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"campaign.json": camp, "catalog.json": cat} {
		path := filepath.Join(dir, name)
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make schema`", path)
		}
	}
}

// The examples validate against the schemas; a broken file does not.
func TestExamplesMatchSchema(t *testing.T) {
	camp, _ := schema.Campaign(builtin.Registry())
	cat, _ := schema.Catalog()
	c := jsv.NewCompiler()
	for name, data := range map[string][]byte{"campaign.json": camp, "catalog.json": cat} {
		doc, err := jsv.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.AddResource("https://stepwise.dev/schema/"+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := c.Compile("https://stepwise.dev/schema/campaign.json")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := c.Compile("https://stepwise.dev/schema/catalog.json")
	if err != nil {
		t.Fatal(err)
	}
	load := func(path string) any {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(raw, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		doc, _ := jsv.UnmarshalJSON(bytes.NewReader(b))
		return doc
	}
	for _, f := range []string{"winback", "import", "newsletter", "birthday"} {
		if err := cs.Validate(load("../../examples/" + f + ".yaml")); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := ks.Validate(load("../../examples/catalog.yaml")); err != nil {
		t.Errorf("catalog: %v", err)
	}
	// The date forms of a condition; a within that is not days fails.
	dates := map[string]any{"version": 1, "id": "x", "activities": []any{map[string]any{"id": "a", "type": "build-audience", "where": map[string]any{"any": []any{
		map[string]any{"field": "birthDate", "op": "anniversary", "within": "7d"},
		map[string]any{"field": "birthDate", "part": "month", "op": "eq", "value": 12},
		map[string]any{"field": "signupAt", "op": "inLast", "within": "2w"},
	}}}}}
	b, _ := json.Marshal(dates)
	doc, _ := jsv.UnmarshalJSON(bytes.NewReader(b))
	if err := cs.Validate(doc); err != nil {
		t.Errorf("date conditions: %v", err)
	}
	dates["activities"].([]any)[0].(map[string]any)["where"] = map[string]any{"field": "birthDate", "op": "inNext", "within": "12h"}
	b, _ = json.Marshal(dates)
	doc, _ = jsv.UnmarshalJSON(bytes.NewReader(b))
	if err := cs.Validate(doc); err == nil || !strings.Contains(err.Error(), "within") {
		t.Errorf("within: 12h should fail on within, got %v", err)
	}
	bad := map[string]any{"version": 1, "id": "x", "activities": []any{map[string]any{"id": "a", "type": "split", "segments": "nope"}}}
	b, _ = json.Marshal(bad)
	doc, _ = jsv.UnmarshalJSON(bytes.NewReader(b))
	if err := cs.Validate(doc); err == nil || !strings.Contains(err.Error(), "segments") {
		t.Errorf("a split with a string for segments should fail on segments, got %v", err)
	}
}
