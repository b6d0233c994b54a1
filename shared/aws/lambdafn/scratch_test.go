package lambdafn_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

// TestScratchLeavesWorkDirAsFound: an invocation's files go with it, whether
// it succeeds, fails or panics, and the first invocation of a process
// removes what a process killed mid-invocation left.
func TestScratchLeavesWorkDirAsFound(t *testing.T) {
	work := t.TempDir()
	leftover := filepath.Join(work, lambdafn.ScratchFolder, "inv-killed", "spill.tmp")
	if err := os.MkdirAll(filepath.Dir(leftover), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftover, []byte("from a process killed at its timeout"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := lambdafn.NewScratch(work)
	write := func(dir string) {
		if err := os.WriteFile(filepath.Join(dir, "out.parquet"), make([]byte, 1<<10), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	var dirs []string
	if err := s.Do(func(dir string) error { dirs = append(dirs, dir); write(dir); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.Do(func(dir string) error { dirs = append(dirs, dir); write(dir); return boom }); !errors.Is(err, boom) {
		t.Fatalf("error %v, want the invocation's", err)
	}
	func() {
		defer func() { recover() }()
		s.Do(func(dir string) error { dirs = append(dirs, dir); write(dir); panic("handler bug") })
	}()
	if len(dirs) != 3 || dirs[0] == dirs[1] || dirs[1] == dirs[2] {
		t.Fatalf("scratch folders %v, want three distinct", dirs)
	}
	var left []string
	filepath.WalkDir(work, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("files left in the work dir: %v", left)
	}
}
