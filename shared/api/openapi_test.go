package api_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json")

const committed = "../../docs/openapi.json"

// The committed document is what the code generates (make openapi regenerates it).
func TestOpenAPIFresh(t *testing.T) {
	doc, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := api.OpenAPI()
	if !bytes.Equal(doc, again) {
		t.Fatal("the document is not deterministic")
	}
	if *update {
		if err := os.WriteFile(committed, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old, err := os.ReadFile(committed)
	if err != nil || !bytes.Equal(old, doc) {
		t.Fatalf("docs/openapi.json is stale: run go test ./shared/api -run TestOpenAPIFresh -update")
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if m["openapi"] != "3.1.0" {
		t.Fatalf("openapi %v", m["openapi"])
	}
	schemas := m["components"].(map[string]any)["schemas"].(map[string]any)
	for _, ref := range regexp.MustCompile(`"\$ref": "#/components/schemas/([A-Za-z0-9_]+)"`).FindAllStringSubmatch(string(doc), -1) {
		if _, ok := schemas[ref[1]]; !ok {
			t.Errorf("dangling $ref %s", ref[1])
		}
	}
	paths := m["paths"].(map[string]any)
	for _, p := range []string{"/v1/campaigns", "/v1/campaigns/{id}/trigger", "/v1/runs/{run}", "/unsubscribe/{token}"} {
		if paths[p] == nil {
			t.Errorf("no path %s", p)
		}
	}
	ci := schemas["CampaignInput"].(map[string]any)
	if ci["additionalProperties"] != false {
		t.Error("request bodies must refuse unknown fields")
	}
}

// The served document is the committed one.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, time.Hour)
	r := e.expect(e.do("GET", "/openapi.json", nil), 200, "openapi")
	doc, _ := api.OpenAPI()
	if !bytes.Equal(r.raw, doc) || !strings.Contains(string(r.raw), `"operationId": "triggerCampaign"`) {
		t.Fatal("served document differs")
	}
}
