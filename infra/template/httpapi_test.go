package template_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// publicOperations are the operations docs/openapi.json leaves open
// (security: []), as "METHOD /path".
func publicOperations(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "openapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	out := map[string]bool{}
	for p, ops := range doc.Paths {
		for m, raw := range ops {
			var op struct {
				Security *[]any `json:"security"`
			}
			if json.Unmarshal(raw, &op) == nil && op.Security != nil && len(*op.Security) == 0 {
				out[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	return out
}

// TestHttpAPIAuthorizesEachOperation: in the transformed template, for
// both AuthModes, every operation of the HTTP API names the mode's
// security scheme itself (API Gateway's importer ignores the document-level
// security), and exactly the operations docs/openapi.json documents as
// public, and the console's, are open.
func TestHttpAPIAuthorizesEachOperation(t *testing.T) {
	public := publicOperations(t)
	if len(public) == 0 {
		t.Fatal("docs/openapi.json documents no public operation; expected the one-click unsubscribe")
	}
	for mode, scheme := range map[string]string{"IAM": "sigv4", "JWT": "jwt"} {
		params := map[string]string{"AuthMode": mode}
		if mode == "JWT" {
			params["JwtIssuer"], params["JwtAudience"] = "https://issuer.example", "client"
		}
		s := deployed(t, params)
		var apis []string
		for id, r := range s.resources {
			if r["Type"] == "AWS::ApiGatewayV2::Api" {
				apis = append(apis, id)
			}
		}
		if len(apis) != 1 {
			t.Fatalf("%s: %d AWS::ApiGatewayV2::Api resources, want 1", mode, len(apis))
		}
		body := obj(s.value(t, obj(s.resources[apis[0]]["Properties"])["Body"]))
		schemes := obj(obj(body["components"])["securitySchemes"])
		if _, ok := schemes[scheme]; !ok || len(schemes) != 1 {
			t.Errorf("%s: security schemes %v, want only %s", mode, keys(schemes), scheme)
		}
		var open []string
		n := 0
		for p, ops := range obj(body["paths"]) {
			for m, op := range obj(ops) {
				n++
				name := strings.ToUpper(m) + " " + p
				sec, ok := obj(op)["security"]
				switch {
				case !ok:
					t.Errorf("%s: %s has no security of its own", mode, name)
				case len(list(sec)) == 0:
					open = append(open, name)
				case !reflect.DeepEqual(sec, []any{map[string]any{scheme: []any{}}}):
					t.Errorf("%s: %s security %v, want [{%s: []}]", mode, name, sec, scheme)
				}
			}
		}
		sort.Strings(open)
		want := consoleOperations() // the console checks its own sessions (console_test.go)
		for op := range public {
			want[op] = true
		}
		if !reflect.DeepEqual(open, keys(want)) {
			t.Errorf("%s: open operations %v, docs/openapi.json documents %v and the console has %v", mode, open, keys(public), keys(consoleOperations()))
		}
		if n < 3 {
			t.Errorf("%s: %d operations", mode, n)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
