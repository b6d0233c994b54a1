package lambdafn

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ScratchFolder is the folder of the work dir (/tmp) that holds the
// invocations' scratch folders.
const ScratchFolder = "stepwise-scratch"

// Scratch keeps a function's files in its work dir to one invocation:
// Lambda keeps /tmp (the template's EphemeralStorage) for as long as the
// execution environment lives, so a file an invocation leaves there is
// still taking room on the next warm invocation. Each invocation gets a
// folder of its own, removed when it ends, whether it succeeded, failed or
// panicked; the first invocation of a process removes what a process that
// died mid-invocation (a timeout, out of memory) left. The work dir must be
// the function's own, as /tmp is on Lambda: a process sharing it would have
// its folders swept.
type Scratch struct {
	root  string
	mu    sync.Mutex
	swept bool
}

// NewScratch keeps scratch folders under workDir/ScratchFolder. It does no
// I/O.
func NewScratch(workDir string) *Scratch {
	return &Scratch{root: filepath.Join(workDir, ScratchFolder)}
}

// Do runs fn with a new empty folder and removes the folder when fn returns.
func (s *Scratch) Do(fn func(dir string) error) error {
	if err := s.sweep(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(s.root, "inv-")
	if err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	defer os.RemoveAll(dir)
	return fn(dir)
}

// sweep removes the scratch root once per process (again after a failure).
func (s *Scratch) sweep() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.swept {
		return nil
	}
	if err := os.RemoveAll(s.root); err != nil {
		return fmt.Errorf("scratch: remove the leftovers in %s: %w", s.root, err)
	}
	if err := os.MkdirAll(s.root, 0o700); err != nil {
		return fmt.Errorf("scratch: %w", err)
	}
	s.swept = true
	return nil
}
