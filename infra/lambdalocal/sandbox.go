package lambdalocal

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
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

// sandboxed wraps argv so that it runs in a private mount namespace where the
// time zone folders are empty, as on Lambda's OS-only runtime.
func sandboxed(argv []string) []string {
	script := ""
	for _, d := range zoneinfoDirs() {
		script += "mount -t tmpfs -o size=4k,mode=0755 none '" + d + "' && "
	}
	return append([]string{"unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script + `exec "$0" "$@"`}, argv...)
}
