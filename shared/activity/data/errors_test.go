package data_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// A store failing under an activity is named at the function boundary
// (runner.Handle) from what the store returned: a full disk while writing
// the output may pass and is retried, a refused write does not; an input
// that is not there (expired) is invalid input, with the activity's
// explanation.
func TestStoreFailuresAreNamedAtTheBoundary(t *testing.T) {
	h, p := udSetup(t)
	in := h.rowsInput("in/names", [4]string{"C1", "", "", ""})
	// The output's manifest fails to write, as folderblob reports it.
	failing := func(errno syscall.Errno) *faultBlob {
		return &faultBlob{Store: h.blob, fail: func(k string) error {
			if strings.HasPrefix(k, "runs/") && strings.HasSuffix(k, "/out/manifest.json") {
				return fmt.Errorf("folderblob: put %s: %w", k, errno)
			}
			return nil
		}}
	}
	gone := "runs/r-gone/f/out"
	spec, _ := h.env.reg.Lookup("update-data")
	for i, c := range []struct {
		name       string
		env        *tenv
		in         activity.Input
		want, says string
	}{
		{"disk full", h.newEnv(failing(syscall.ENOSPC)), in, "Retryable", "no space left"},
		{"write refused", h.newEnv(failing(syscall.EACCES)), in, "InvalidInput", "permission denied"},
		{"input expired", h.env, activity.Input{From: "f", Port: "out", Ref: &gone}, "InvalidInput", "expired after 5 days"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &runner.Runner{Registry: c.env.reg, Env: c.env.Env, Store: h.state, Plans: &runner.Plans{Blob: c.env.plans.Blob, Registry: c.env.reg}}
			input, err := json.Marshal(request(p, "u_count", fmt.Sprintf("r-named%d", i), false, nil, c.in))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Handle(context.Background(), spec.Function, input)
			if n := failure.Name(err); n != c.want {
				t.Errorf("%v is %s, want %s", err, n, c.want)
			}
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("the error does not say %q: %v", c.says, err)
			}
		})
	}
}
