package api_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/fileroot"
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
	// The campaign folder is the sources' folder (testdata), not the
	// server's working folder.
	self, err := filepath.Abs("confine_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"/etc/passwd", filepath.Join(e.l.Home, unsubscribe.SecretFile), filepath.Join(e.l.Home, "uploads", "..", unsubscribe.SecretFile), self, "../confine_test.go"} {
		r := e.expect(e.do("POST", "/v1/campaigns/load-param/test-run?wait=30s", map[string]any{"params": map[string]any{"file": file}}), 200, file)
		if r.str("status") != "failed" || !strings.Contains(r.raw2(), `file (parameter \"file\")`) || !strings.Contains(r.raw2(), "uploads") {
			t.Errorf("%s: %s", file, r.raw)
		}
		if strings.Contains(r.raw2(), "root:") || strings.Contains(r.raw2(), string(key)) {
			t.Errorf("%s: the answer holds the file: %s", file, r.raw)
		}
	}
}

// A distinctive customer value that fails each path of load-file (a
// conversion beyond maxErrors, a headerless file read with a header, a
// broken JSON line) shows in no API answer, run record, run log or server
// log line: errors name the line and the column.
func TestFailuresCarryNoValues(t *testing.T) {
	const value = "bob.private@corp.example"
	var logs bytes.Buffer
	e := newEnvLogger(t, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	src := strings.Replace(loadCampaign, "columns: [{ name: email }] }", "columns: [{ name: email }, { name: points, type: integer }], maxErrors: 0 }", 1)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": src}), 201, "create")
	for name, data := range map[string]string{
		"points.csv":   "email,points\nann@x.com,3\nann2@x.com," + value + "\n",
		"headless.csv": value + ",7\n",
		"broken.jsonl": `{"email": "ann@x.com", "points": 1}` + "\n" + `{"email": ` + value + `}` + "\n",
	} {
		u := e.expect(e.do("POST", "/v1/uploads", map[string]any{"name": name}), 201, "new upload")
		e.expect(e.do("PUT", u.str("url"), data, "Content-Type", "application/octet-stream"), 201, "put")
		r := e.expect(e.do("POST", "/v1/campaigns/load-param/test-run?wait=30s", map[string]any{"params": map[string]any{"file": u.str("file")}}), 200, name)
		if r.str("status") != "failed" || !strings.Contains(r.str("reason"), "line ") && !strings.Contains(r.str("reason"), ".csv:1:") {
			t.Errorf("%s: want a failure naming the line: %s", name, r.raw)
		}
		if strings.Contains(r.str("reason"), e.l.Home) {
			t.Errorf("%s: the reason names the home's folder: %s", name, r.str("reason"))
		}
		answers := [][]byte{r.raw,
			e.expect(e.do("GET", "/v1/runs/"+r.str("id"), nil), 200, "run").raw,
			e.expect(e.do("GET", "/v1/runs/"+r.str("id")+"/logs", nil), 200, "logs").raw}
		for _, a := range answers {
			if strings.Contains(string(a), value) {
				t.Errorf("%s: an answer holds the value: %s", name, a)
			}
		}
	}
	if strings.Contains(logs.String(), value) {
		t.Errorf("the server log holds the value:\n%s", logs.String())
	}
}

// Template files of API campaigns are read inside --dir: a symlink out of it
// and a Stepwise home inside it are refused.
func TestDirSourcesConfined(t *testing.T) {
	base := t.TempDir()
	dir, out := filepath.Join(base, "dir"), filepath.Join(base, "out")
	home := filepath.Join(dir, ".stepwise")
	for _, d := range []string{dir, out, home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{filepath.Join(dir, "ok.html"): "<p>ok</p>", filepath.Join(out, "secret.html"): "TOPSECRET",
		filepath.Join(home, "unsubscribe.key"): "KEYKEYKEY"} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fileroot.MarkHome(home); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(out, "secret.html"), filepath.Join(dir, "evil.html")); err != nil {
		t.Fatal(err)
	}
	src := api.DirSources{Dir: dir}
	if data, err := src.File(context.Background(), "ok.html"); err != nil || string(data) != "<p>ok</p>" {
		t.Fatalf("ok.html: %q %v", data, err)
	}
	for _, name := range []string{"evil.html", ".stepwise/unsubscribe.key", "../out/secret.html"} {
		data, err := src.File(context.Background(), name)
		if err == nil || strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "KEYKEY") {
			t.Errorf("%s: read %q, %v", name, data, err)
		}
	}
}
