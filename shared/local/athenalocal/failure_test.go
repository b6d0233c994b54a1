package athenalocal_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/athenalocal"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// failNewsletter runs the Athena newsletter through the compiled states
// with every Lambda task answered by task (StartRun and FailRun faked here),
// requires it to fail as CampaignFailed, and returns FailRun's input.
func failNewsletter(t *testing.T, task func(fn string, in json.RawMessage) json.RawMessage) json.RawMessage {
	t.Helper()
	dir := workspace(t, 50)
	p, diags := builtin.CompileFiles(filepath.Join(dir, "newsletter.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var failed json.RawMessage
	inv := interp.InvokerFunc(func(_ context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
		fn, _ := plan.ResourceFunction(resource)
		switch fn {
		case plan.FnStartRun:
			return json.RawMessage(`{"id":"r1","now":"2026-11-20T10:00:00Z","weekday":"fri","hour":10}`), nil
		case plan.FnFailRun:
			failed = in
			return json.RawMessage(`{}`), nil
		}
		return task(fn, in), nil
	})
	_, err = interp.Run(context.Background(), p.JSON, json.RawMessage(`{}`), interp.Options{Invoker: inv, Athena: &athenalocal.Athena{Blob: bs}, Wait: interp.WaitSkip})
	var f *interp.Failure
	if !errors.As(err, &f) || f.Name != "CampaignFailed" {
		t.Fatalf("run: %v, want CampaignFailed", err)
	}
	return failed
}

// namedAthenaFailure requires FailRun's input to name AthenaQueryFailed
// with Athena's reason (the stand-in refuses anything but UNLOAD).
func namedAthenaFailure(t *testing.T, failed json.RawMessage) {
	t.Helper()
	var in struct{ Error struct{ Error, Cause string } }
	json.Unmarshal(failed, &in)
	if in.Error.Error != "AthenaQueryFailed" || !strings.Contains(in.Error.Cause, `"StateChangeReason":"only UNLOAD`) {
		t.Fatalf("FailRun got %s, want AthenaQueryFailed with Athena's reason", failed)
	}
}

// A query Athena fails reaches the run as AthenaQueryFailed with Athena's
// reason, through the compiled states (the Lambda tasks faked).
func TestQueryFailureIsNamed(t *testing.T) {
	failed := failNewsletter(t, func(fn string, _ json.RawMessage) json.RawMessage {
		if fn != "BuildAudience" {
			t.Fatalf("unexpected task %s", fn)
		}
		// A statement Athena refuses (the stand-in runs UNLOADs only).
		return json.RawMessage(`{"status":"succeeded","ports":{"out":null},"counts":{"out":0},"extra":{"done":false,"query":"SELECT 1"}}`)
	})
	namedAthenaFailure(t, failed)
}

// A channel plan's query Athena fails reaches the run as AthenaQueryFailed
// with Athena's reason: every other task succeeds (faked).
func TestChannelQueryFailureIsNamed(t *testing.T) {
	unloads := 0
	failed := failNewsletter(t, func(_ string, in json.RawMessage) json.RawMessage {
		var req struct{ Phase string }
		json.Unmarshal(in, &req)
		if req.Phase == "unload" {
			unloads++
			// A statement Athena refuses (the stand-in runs UNLOADs only).
			return json.RawMessage(`{"status":"succeeded","ports":{},"counts":{},"extra":{"done":false,"query":"SELECT 1"}}`)
		}
		return json.RawMessage(`{"status":"succeeded","ports":{"out":"runs/r1/x/out"},"counts":{"out":500},"extra":{"done":true}}`)
	})
	if unloads == 0 {
		t.Fatal("no unload task ran")
	}
	namedAthenaFailure(t, failed)
}
