package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// load-file reads a file outside the campaign folder only when --file-root
// names its folder; the refusal names the parameter and the roots.
func TestRunFileRoot(t *testing.T) {
	base := t.TempDir()
	camp, partner := filepath.Join(base, "camp"), filepath.Join(base, "partner")
	cat, err := os.ReadFile("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		filepath.Join(camp, "catalog.yaml"): string(cat),
		filepath.Join(camp, "campaign.yaml"): `version: 1
id: roots
dimension: customers
parameters:
  file: { type: string }
activities:
  - { id: f, type: load-file, file: { param: file }, columns: [{ name: email }] }
`,
		filepath.Join(partner, "leads.csv"): "email\nann@example.com\n",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(partner, "leads.csv")
	home := filepath.Join(base, "home")
	out, errOut, code := stepwise(t, "run", filepath.Join(camp, "campaign.yaml"), "--home", home, "--param", "file="+file)
	if code == 0 || !strings.Contains(out+errOut, `load-file: file (parameter \"file\")`) && !strings.Contains(out+errOut, `load-file: file (parameter "file")`) {
		t.Fatalf("without --file-root: code %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = stepwise(t, "run", filepath.Join(camp, "campaign.yaml"), "--home", home, "--param", "file="+file, "--file-root", partner)
	if code != 0 || !strings.Contains(out, "out=1") {
		t.Fatalf("with --file-root: code %d\n%s%s", code, out, errOut)
	}
	if fi, err := os.Stat(home); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("home mode: %v %v", fi.Mode(), err)
	}
}
