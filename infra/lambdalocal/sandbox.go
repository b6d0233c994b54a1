package lambdalocal

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// zoneinfoDirs are where a Go program looks for the time zone database when
// it embeds none (time.LoadLocation: ZONEINFO, these system folders, then
// $GOROOT/lib/time). The provided.al2023 runtime has none of them.
func zoneinfoDirs() []string {
	dirs := []string{"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo"}
	if g := runtime.GOROOT(); g != "" {
		dirs = append(dirs, g+"/lib/time")
	}
	var out []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, d)
		}
	}
	return out
}

var sandbox struct {
	once sync.Once
	err  error
}

// SandboxAvailable says why functions cannot run in a private mount
// namespace here (nil when they can): it needs Linux, root and util-linux's
// unshare.
func SandboxAvailable() error {
	sandbox.once.Do(func() {
		if runtime.GOOS != "linux" {
			sandbox.err = errors.New("private mount namespaces need Linux")
			return
		}
		if _, err := exec.LookPath("unshare"); err != nil {
			sandbox.err = errors.New("unshare (util-linux) is not installed")
			return
		}
		if out, err := exec.Command("unshare", "--mount", "--propagation", "private", "true").CombinedOutput(); err != nil {
			sandbox.err = errors.New("unshare --mount: " + strings.TrimSpace(string(out)) + " (needs root)")
		}
	})
	return sandbox.err
}

// DefaultTmpSize is the size in bytes of a function's /tmp when the
// template sets no EphemeralStorage (Lambda's default, 512 MB).
const DefaultTmpSize = 512 << 20

// sandboxed wraps argv so that it runs in a private mount namespace where the
// time zone folders are empty, as on Lambda's OS-only runtime, and /tmp is a
// tmpfs of tmpSize bytes (rounded up to pages) of its own: it lasts as long as the emulator (across the
// warm function's invocations, as Lambda keeps /tmp for an execution
// environment's life) and a write beyond its size fails with ENOSPC.
// The first of argv (the emulator) and the last (the bootstrap) are run
// through descriptors of their folders opened before the mounts, as a binary
// under /tmp (a checkout there, a build cache) is hidden after them; the
// function starts in /.
func sandboxed(argv []string, tmpSize int64) []string {
	rie, boot := argv[0], argv[len(argv)-1]
	argv = append(append([]string{"/proc/self/fd/4/" + filepath.Base(rie)}, argv[1:len(argv)-1]...), "/proc/self/fd/3/"+filepath.Base(boot))
	script := "exec 3<" + shellQuote(filepath.Dir(boot)) + " 4<" + shellQuote(filepath.Dir(rie)) +
		" && mount -t tmpfs -o size=" + strconv.FormatInt(tmpSize, 10) + ",mode=1777 none /tmp && "
	for _, d := range zoneinfoDirs() {
		script += "mount -t tmpfs -o size=4k,mode=0755 none " + shellQuote(d) + " && "
	}
	return append([]string{"unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script + `cd / && exec "$0" "$@"`}, argv...)
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TmpUsage is what a strict function's /tmp holds.
type TmpUsage struct {
	Used, Size int64    // bytes
	Files      []string // paths under /tmp, sorted
}

// Tmp reads the function's /tmp (Strict only) through /proc/<pid>/root,
// which shows the emulator's mount namespace: a test's look from outside,
// with nothing added to the function.
func (r *RIE) Tmp() (TmpUsage, error) {
	if !r.strict || r.cmd.Process == nil {
		return TmpUsage{}, errors.New("lambdalocal: " + r.Name + " has no /tmp of its own (not Strict)")
	}
	dir := "/proc/" + strconv.Itoa(r.cmd.Process.Pid) + "/root/tmp"
	used, size, err := fsUsage(dir)
	if err != nil {
		return TmpUsage{}, err
	}
	u := TmpUsage{Used: used, Size: size}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			u.Files = append(u.Files, "/tmp/"+filepath.ToSlash(strings.TrimPrefix(p, dir+"/")))
		}
		return nil
	})
	sort.Strings(u.Files)
	return u, err
}
