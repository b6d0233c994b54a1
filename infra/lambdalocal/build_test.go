package lambdalocal_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
)

// TestPruneKeepsRecentBuilds: a new build removes the function's builds
// nobody used for an hour, but not one another worktree built or reused
// lately (its test may be running it), nor another function's.
func TestPruneKeepsRecentBuilds(t *testing.T) {
	cache := t.TempDir()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	mk := func(name string, age time.Duration) {
		dir := filepath.Join(cache, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(dir, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	mk("email@old", 2*time.Hour)
	mk("email@inuse", 10*time.Minute)
	mk("email@new.tmp123", 2*time.Hour)
	mk("sms@old", 2*time.Hour)
	lambdalocal.PruneStaleForTest(cache, "email", now)
	for name, want := range map[string]bool{"email@old": false, "email@inuse": true, "email@new.tmp123": true, "sms@old": true} {
		if _, err := os.Stat(filepath.Join(cache, name)); (err == nil) != want {
			t.Errorf("%s kept: %v, want %v", name, err == nil, want)
		}
	}
}

// TestMakeTestSharesBootstrapFlags: make test compiles with the bootstraps'
// -trimpath and tags, or the AWS-shape tests compile every package again.
func TestMakeTestSharesBootstrapFlags(t *testing.T) {
	mk, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	want := "TESTFLAGS := -trimpath -tags=" + lambdalocal.Tags + "\n"
	if !strings.Contains(string(mk), want) {
		t.Errorf("Makefile lacks %q (lambdalocal.BuildArgs' flags)", want)
	}
}
