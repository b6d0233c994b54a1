//go:build unix

package executor_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// A run's home holds personal data (datasets, manifests, the state file):
// every file is 0600 and every folder 0700, even under a umask of 0 (the
// outbox excepted: the send package owns it).
func TestHomeIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	dir := t.TempDir()
	cat, err := os.ReadFile("testdata/catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"catalog.yaml": string(cat),
		"leads.csv":    "customerId,email\nc1,ann@example.com\nc2,bob@example.com\n",
		"campaign.yaml": `version: 1
id: modes
dimension: customers
activities:
  - { id: f, type: load-file, file: leads.csv, columns: [{ name: customerId }, { name: email }], dimension: customers }
  - { id: s, type: save-audience, from: f, audience: imported }
`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, diags := builtin.CompileFiles(filepath.Join(dir, "campaign.yaml"), "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	home := filepath.Join(dir, "home")
	l, err := executor.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := l.Run(context.Background(), p, executor.Options{Wait: interp.WaitSkip})
	if err != nil || sum.Status != "succeeded" {
		t.Fatalf("run: %v %+v", err, sum)
	}
	l.Close()
	// A signal left by `stepwise resume`.
	if err := executor.Send(home, "run-1", "resume"); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(home, path)
		if rel == "outbox" {
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", rel, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk saw the datasets, their manifests and the state file.
	for _, want := range []string{"state.db", ".parquet", "manifest", "signals"} {
		found := false
		filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
			found = found || strings.Contains(path, want)
			return nil
		})
		if !found {
			t.Errorf("the home has no %s", want)
		}
	}
}
