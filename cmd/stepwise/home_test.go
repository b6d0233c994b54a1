package main

import (
	"fmt"
	"strings"
	"testing"
)

// While `stepwise run` holds the home, read commands (runs, logs, preview,
// graph --run) work on it and a second run is refused with the holder's pid
// and command.
func TestReadCommandsBesideARun(t *testing.T) {
	home := t.TempDir()
	cmd, sc := startLongRun(t, home)
	untilPause(sc)

	out, errOut, code := stepwise(t, "runs", "--home", home)
	if code != 0 || !strings.Contains(out, "long-wait") {
		t.Fatalf("runs beside a run: %d %q %q", code, out, errOut)
	}
	var runID string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(line, "long-wait") {
			runID = f[0]
		}
	}
	out, errOut, code = stepwise(t, "logs", "--home", home, runID, "before")
	if code != 0 || !strings.Contains(out, "before the wait") {
		t.Fatalf("logs beside a run: %d %q %q", code, out, errOut)
	}
	out, errOut, code = stepwise(t, "preview", "--home", home, runID, "before")
	if code != 0 || !strings.Contains(out, "before.out") {
		t.Fatalf("preview beside a run: %d %q %q", code, out, errOut)
	}
	if out, errOut, code = stepwise(t, "graph", "--home", home, "--run", runID, "testdata/longwait.yaml"); code != 0 || !strings.Contains(out, "before<br/>alert<br/>[succeeded]") {
		t.Fatalf("graph --run beside a run: %d %.200q %q", code, out, errOut)
	}
	_, errOut, code = stepwise(t, "run", "testdata/longwait.yaml", "--home", home, "--wait", "real")
	want := fmt.Sprintf("in use by `stepwise run testdata/longwait.yaml --home %s --wait real` (pid %d) since ", home, cmd.Process.Pid)
	if code == 0 || !strings.Contains(errOut, want) {
		t.Fatalf("second run: %d %q, want it to say %q", code, errOut, want)
	}
}
