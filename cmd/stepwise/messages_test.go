package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stepwiseIn runs the binary in dir.
func stepwiseIn(t *testing.T, dir string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// Help is asked for, not a usage error: exit 0 with the usage, for
// stepwise itself and every command.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {}} {
		out, _, code := stepwise(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "stepwise validate") {
			t.Errorf("stepwise %v: exit %d, %q", args, code, out)
		}
	}
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, h := range []string{"-h", "--help"} {
			args := []string{n, h}
			if n == "feedback" {
				args = []string{n, "import", h}
			}
			out, errOut, code := stepwise(t, args...)
			if code != 0 || !strings.Contains(out+errOut, "Usage: stepwise "+n) {
				t.Errorf("stepwise %s: exit %d, %q %q", strings.Join(args, " "), code, out, errOut)
			}
		}
		out, _, code := stepwise(t, "help", n)
		if code != 0 || !strings.Contains(strings.ToLower(out), "usage: stepwise "+n) {
			t.Errorf("stepwise help %s: exit %d, %q", n, code, out)
		}
	}
	if _, _, code := stepwise(t, "validate", "--nope"); code != 2 {
		t.Errorf("an unknown flag: exit %d, want 2", code)
	}
	if _, _, code := stepwise(t, "feedback", "--help"); code != 0 {
		t.Errorf("feedback --help: exit %d", code)
	}
}

// serve -h names --dir's argument DIR, not a word of its description.
func TestServeHelpDir(t *testing.T) {
	_, errOut, code := stepwise(t, "serve", "-h")
	if code != 0 || !strings.Contains(errOut, "-dir DIR\n") || strings.Contains(errOut, "-dir file:") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
}

// A missing catalog names the full path looked for and how to name one; no
// 0:0 position.
func TestMissingCatalog(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("version: 1\nid: c\ndimension: customers\nactivities:\n  - { id: a, type: build-audience }\n"), 0o644)
	_, errOut, code := stepwiseIn(t, dir, "validate", "c.yaml")
	want := filepath.Join(dir, "catalog.yaml") + " does not exist"
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "--catalog FILE") ||
		!strings.Contains(errOut, "catalog.yaml beside the campaign") || strings.Contains(errOut, ":0:0") {
		t.Errorf("default catalog: exit %d, %q", code, errOut)
	}
	_, errOut, code = stepwiseIn(t, dir, "run", "--catalog", "cat.yaml", "c.yaml", "--home", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "--catalog cat.yaml: "+filepath.Join(dir, "cat.yaml")+" does not exist") {
		t.Errorf("--catalog: exit %d, %q", code, errOut)
	}
}

// A missing campaign file is named with its full path, without 0:0.
func TestMissingCampaignFile(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := stepwiseIn(t, dir, "validate", "nope.yaml")
	if code != 1 || !regexp.MustCompile(`(?m)^nope\.yaml: campaign file `+regexp.QuoteMeta(filepath.Join(dir, "nope.yaml"))+` does not exist$`).MatchString(errOut) || strings.Contains(errOut, ":0:0") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// copyExamples writes the examples (as `stepwise demo` does) to dir/examples.
func copyExamples(t *testing.T, dir string) string {
	t.Helper()
	ex := filepath.Join(dir, "examples")
	if err := writeExamples(ex); err != nil {
		t.Fatal(err)
	}
	return ex
}

// The repository's examples without their generated data: run refuses at
// once and names the command that makes it (validate says it too); a
// catalog of the user's gets no such suggestion, and the run's error names
// the missing source.
func TestExampleDataMissing(t *testing.T) {
	dir := t.TempDir()
	copyExamples(t, dir)
	_, errOut, code := stepwiseIn(t, dir, "run", "examples/winback.yaml", "--test", "--home", filepath.Join(dir, "h"))
	if code != 1 || !strings.Contains(errOut, "examples/data/customers.parquet") ||
		!strings.Contains(errOut, "\n  stepwise sample-data --out examples/data\n") {
		t.Errorf("run: exit %d, %q", code, errOut)
	}
	_, errOut, code = stepwiseIn(t, filepath.Join(dir, "examples"), "validate", "winback.yaml")
	if code != 0 || !strings.Contains(errOut, "\n  stepwise sample-data --out data\n") {
		t.Errorf("validate: exit %d, %q", code, errOut)
	}

	// The user's own catalog (changed): no invented data, no suggestion.
	cat := filepath.Join(dir, "examples", "catalog.yaml")
	data, _ := os.ReadFile(cat)
	os.WriteFile(cat, append(data, "# mine\n"...), 0o644)
	_, errOut, code = stepwiseIn(t, dir, "run", "examples/winback.yaml", "--test", "--home", filepath.Join(dir, "h"))
	if code != 1 || strings.Contains(errOut, "sample-data") ||
		!strings.Contains(errOut, "table customers: its source examples/data/customers.parquet does not exist") {
		t.Errorf("the user's catalog: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "examples", "data")); !os.IsNotExist(err) {
		t.Errorf("data was made: %v", err)
	}
}

// A missing template file names the folder it was looked for in.
func TestMissingTemplateFile(t *testing.T) {
	dir := t.TempDir()
	ex := copyExamples(t, dir)
	os.Remove(filepath.Join(ex, "templates", "vip.html"))
	_, errOut, code := stepwiseIn(t, dir, "validate", "examples/winback.yaml")
	if code != 1 || !strings.Contains(errOut, `cannot read template file "templates/vip.html" in `+ex+" (the campaign's folder)") {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// The demo runs again in the same home: its copy of the examples is beside
// the home, whose files campaigns cannot read.
func TestDemoTwice(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 2; i++ {
		out, errOut, code := stepwiseIn(t, dir, "demo", "--customers", "300", "--test")
		if code != 0 || !strings.Contains(out, "SUCCEEDED") {
			t.Fatalf("demo %d: exit %d\n%s\n%s", i+1, code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "stepwise-demo", "winback.yaml")); err != nil {
		t.Error(err)
	}
}

// A load-file parameter naming a missing file says which folder relative
// names are read in.
func TestLoadFileMissingNamesFolder(t *testing.T) {
	dir := t.TempDir()
	copyExamples(t, dir)
	if _, errOut, code := stepwiseIn(t, dir, "sample-data", "--out", "examples/data", "--customers", "50", "--today", "2026-01-15"); code != 0 {
		t.Fatal(errOut)
	}
	_, errOut, code := stepwiseIn(t, dir, "run", "examples/import.yaml", "--test", "--home", filepath.Join(dir, "h"), "--param", "file=nope.csv")
	if code != 1 || !strings.Contains(errOut, `nope.csv not found in the campaign folder "examples" (relative paths are read there)`) {
		t.Errorf("exit %d, %q", code, errOut)
	}
}

// serve over the examples without their data warns at start with the
// command that makes it.
func TestServeWarnsExampleData(t *testing.T) {
	dir := t.TempDir()
	copyExamples(t, dir)
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0", "--dir", "examples", "--home", filepath.Join(dir, "h"), "--no-scheduler")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STEPWISE_TOKEN=0123456789abcdef0123")
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "http://") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if e := errOut.String(); !strings.Contains(e, "warning: examples/data/customers.parquet") || !strings.Contains(e, "\n  stepwise sample-data --out examples/data\n") {
		t.Errorf("stdout %q, stderr %q", out.String(), e)
	}
}

// syncBuffer is a bytes.Buffer safe for a process's writes and a test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
