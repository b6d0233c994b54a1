package runner

import (
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/state"
)

func TestResumable(t *testing.T) {
	for _, c := range []struct {
		status state.RunStatus
		reason string
		want   string // "" when resumable, else a part of the error
	}{
		{state.RunRunning, "", ""},
		{state.RunSuspended, "send failed: x", ""},
		{state.RunFailed, "Retryable: email mail: 3 sends failed transiently", ""},
		{state.RunFailed, "Paused: email mail paused after 10 failed sends", ""},
		{state.RunFailed, "States.Timeout: Task timed out", ""},
		{state.RunFailed, "InvalidInput: invalid parameters", "resuming would not change"},
		{state.RunFailed, "errorString: Retryable: quoted", "resuming would not change"},
		{state.RunSucceeded, "", "nothing to resume"},
		{state.RunStopped, "stopped by the user", "nothing to resume"},
	} {
		err := Resumable(state.Run{ID: "r1", Status: c.status, Reason: c.reason})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %q: %v, want %q", c.status, c.reason, err, c.want)
		}
	}
}
