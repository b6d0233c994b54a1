package api_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

const loadCampaign = `version: 1
id: load-param
dimension: customers
parameters:
  file: { type: string }
activities:
  - { id: f, type: load-file, file: { param: file }, columns: [{ name: email }] }
`

// A file named by a run parameter is read from the allowed roots only (the
// campaign folder, the uploads): /etc/passwd and the home's unsubscribe key
// are refused, and the answer never holds their contents.
func TestLoadFileParamConfined(t *testing.T) {
	e := newEnv(t, time.Hour)
	key, err := unsubscribe.LocalSecret(e.l.Home)
	if err != nil {
		t.Fatal(err)
	}
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": loadCampaign}), 201, "create")
	u := e.expect(e.do("POST", "/v1/uploads", map[string]any{"name": "leads.csv"}), 201, "new upload")
	e.expect(e.do("PUT", u.str("url"), "email\nann@example.com\n", "Content-Type", "application/octet-stream"), 201, "put")

	ok := e.expect(e.do("POST", "/v1/campaigns/load-param/test-run?wait=30s", map[string]any{"params": map[string]any{"file": u.str("file")}}), 200, "upload")
	if ok.str("status") != "succeeded" {
		t.Fatalf("an upload: %s", ok.raw)
	}
	for _, file := range []string{"/etc/passwd", filepath.Join(e.l.Home, unsubscribe.SecretFile), filepath.Join(e.l.Home, "uploads", "..", unsubscribe.SecretFile)} {
		r := e.expect(e.do("POST", "/v1/campaigns/load-param/test-run?wait=30s", map[string]any{"params": map[string]any{"file": file}}), 200, file)
		if r.str("status") != "failed" || !strings.Contains(r.raw2(), `file (parameter \"file\")`) || !strings.Contains(r.raw2(), "uploads") {
			t.Errorf("%s: %s", file, r.raw)
		}
		if strings.Contains(r.raw2(), "root:") || strings.Contains(r.raw2(), string(key)) {
			t.Errorf("%s: the answer holds the file: %s", file, r.raw)
		}
	}
}
