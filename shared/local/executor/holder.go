package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// HolderFile, in the home, names the process that writes to the home (runs,
// serves) and is locked while it does. Read commands do not take it.
const HolderFile = "holder.json"

// Holder is the process that holds a home for writing.
type Holder struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("`%s` (pid %d) since %s", h.Command, h.PID, h.Since.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// holds are this process's holder locks, one per home, shared by the Locals
// that open it.
var holds = struct {
	sync.Mutex
	m map[string]*hold
}{m: map[string]*hold{}}

type hold struct {
	f *os.File
	n int
}

// holdHome takes the home's holder lock for this process, or fails with
// ErrHomeBusy naming the process that has it. The returned func lets go.
func holdHome(home string, now time.Time) (func() error, error) {
	holds.Lock()
	defer holds.Unlock()
	if h := holds.m[home]; h != nil {
		h.n++
		return releaser(home, h), nil
	}
	path := filepath.Join(home, HolderFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		who := "another stepwise process"
		var h Holder
		if data, rerr := os.ReadFile(path); rerr == nil && json.Unmarshal(data, &h) == nil && h.PID > 0 {
			who = h.String()
		}
		return nil, busyError(fmt.Sprintf("%s is in use by %s; wait for it to end, or use another --home (read commands such as runs, preview and graph --run work meanwhile)", home, who))
	}
	data, _ := json.Marshal(Holder{PID: os.Getpid(), Command: commandLine(), Since: now.UTC()})
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt(append(data, '\n'), 0)
	}
	h := &hold{f: f, n: 1}
	holds.m[home] = h
	return releaser(home, h), nil
}

// busyError is ErrHomeBusy naming the holder.
type busyError string

func (e busyError) Error() string        { return string(e) }
func (e busyError) Is(target error) bool { return target == ErrHomeBusy }

func releaser(home string, h *hold) func() error {
	var once sync.Once
	return func() error {
		var err error
		once.Do(func() {
			holds.Lock()
			defer holds.Unlock()
			if h.n--; h.n > 0 {
				return
			}
			delete(holds.m, home)
			h.f.Truncate(0)
			err = h.f.Close() // closing unlocks
		})
		return err
	}
}

// commandLine is how the holder file names this process: the program and
// its arguments, cut at 120 characters.
func commandLine() string {
	line := strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " ")
	if r := []rune(line); len(r) > 120 {
		line = string(r[:119]) + "…"
	}
	return line
}
