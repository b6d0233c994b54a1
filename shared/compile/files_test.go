package compile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/fileroot"
)

// Template `file:` references are read inside the campaign folder only: an
// absolute path elsewhere, a `..` that climbs out, a symlink pointing out
// and a Stepwise home inside the folder are refused, naming the field and
// the folder, never the contents.
func TestTemplateFilesConfined(t *testing.T) {
	base := t.TempDir()
	dir, out := filepath.Join(base, "camp"), filepath.Join(base, "out")
	home := filepath.Join(dir, ".stepwise")
	for name, data := range map[string]string{
		filepath.Join(out, "secret.html"):          "<p>TOPSECRET</p>",
		filepath.Join(dir, "templates", "ok.html"): "<p>hi</p>",
		filepath.Join(home, "unsubscribe.key"):     "KEYKEYKEYKEY",
		filepath.Join(dir, "catalog.yaml"):         mustRead(t, "testdata/catalog.yaml"),
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := fileroot.MarkHome(home); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{filepath.Join(out, "secret.html"), "evil.html"}, {out, "evildir"}, {filepath.Join(home, "unsubscribe.key"), "key.html"}} {
		if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	compileWith := func(ref string) string {
		src := header + `activities:
  - { id: a, type: read-audience }
  - id: e
    type: email
    from: a
    purpose: transactional
    message:
      from: "Shop <news@shop.example>"
      subject: "Hi"
      html: { file: "` + ref + `" }
`
		f := filepath.Join(dir, "c.yaml")
		if err := os.WriteFile(f, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, diags := builtin.CompileFiles(f, "")
		var msgs []string
		for _, d := range diags {
			if strings.Contains(d.Path, "html") {
				msgs = append(msgs, d.String())
			}
		}
		return strings.Join(msgs, "\n")
	}
	if msg := compileWith("templates/ok.html"); msg != "" {
		t.Fatalf("a template in the folder: %s", msg)
	}
	for _, ref := range []string{filepath.Join(out, "secret.html"), "../out/secret.html", "templates/../../out/secret.html",
		"evil.html", "evildir/secret.html", ".stepwise/unsubscribe.key", "key.html", filepath.Join(home, "unsubscribe.key")} {
		msg := compileWith(ref)
		if !strings.Contains(msg, "activities[1].message.html.file") || !strings.Contains(msg, dir) ||
			strings.Contains(msg, "TOPSECRET") || strings.Contains(msg, "KEYKEY") {
			t.Errorf("%s: %q", ref, msg)
		}
	}
}

func mustRead(t *testing.T, name string) string {
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
