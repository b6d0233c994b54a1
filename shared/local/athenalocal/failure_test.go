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

// A query Athena fails reaches the run as AthenaQueryFailed with Athena's
// reason, through the compiled states (the Lambda tasks faked).
func TestQueryFailureIsNamed(t *testing.T) {
	dir := workspace(t, 50)
	p, diags := builtin.CompileFiles(filepath.Join(dir, "newsletter.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ath := &athenalocal.Athena{Blob: bs}
	var failed json.RawMessage
	inv := interp.InvokerFunc(func(_ context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
		fn, _ := plan.ResourceFunction(resource)
		switch fn {
		case plan.FnStartRun:
			return json.RawMessage(`{"id":"r1","now":"2026-11-20T10:00:00Z","weekday":"fri","hour":10}`), nil
		case plan.FnFailRun:
			failed = in
			return json.RawMessage(`{}`), nil
		case "BuildAudience":
			// A statement Athena refuses (the stand-in runs UNLOADs only).
			return json.RawMessage(`{"status":"succeeded","ports":{"out":null},"counts":{"out":0},"extra":{"done":false,"query":"SELECT 1"}}`), nil
		}
		t.Fatalf("unexpected task %s", fn)
		return nil, nil
	})
	_, err = interp.Run(context.Background(), p.JSON, json.RawMessage(`{}`), interp.Options{Invoker: inv, Athena: ath, Wait: interp.WaitSkip})
	var f *interp.Failure
	if !errors.As(err, &f) || f.Name != "CampaignFailed" {
		t.Fatalf("run: %v, want CampaignFailed", err)
	}
	var in struct{ Error struct{ Error, Cause string } }
	json.Unmarshal(failed, &in)
	if in.Error.Error != "AthenaQueryFailed" || !strings.Contains(in.Error.Cause, `"StateChangeReason":"only UNLOAD`) {
		t.Fatalf("FailRun got %s, want AthenaQueryFailed with Athena's reason", failed)
	}
}

// A channel plan's query Athena fails reaches the run as AthenaQueryFailed
// with Athena's reason: every other task succeeds (faked).
func TestChannelQueryFailureIsNamed(t *testing.T) {
	dir := workspace(t, 50)
	p, diags := builtin.CompileFiles(filepath.Join(dir, "newsletter.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ath := &athenalocal.Athena{Blob: bs}
	var failed json.RawMessage
	unloads := 0
	inv := interp.InvokerFunc(func(_ context.Context, resource string, in json.RawMessage) (json.RawMessage, error) {
		fn, _ := plan.ResourceFunction(resource)
		switch fn {
		case plan.FnStartRun:
			return json.RawMessage(`{"id":"r1","now":"2026-11-20T10:00:00Z","weekday":"fri","hour":10}`), nil
		case plan.FnFailRun:
			failed = in
			return json.RawMessage(`{}`), nil
		}
		var req struct{ Phase string }
		json.Unmarshal(in, &req)
		if req.Phase == "unload" {
			unloads++
			// A statement Athena refuses (the stand-in runs UNLOADs only).
			return json.RawMessage(`{"status":"succeeded","ports":{},"counts":{},"extra":{"done":false,"query":"SELECT 1"}}`), nil
		}
		return json.RawMessage(`{"status":"succeeded","ports":{"out":"runs/r1/x/out"},"counts":{"out":500},"extra":{"done":true}}`), nil
	})
	_, err = interp.Run(context.Background(), p.JSON, json.RawMessage(`{}`), interp.Options{Invoker: inv, Athena: ath, Wait: interp.WaitSkip})
	var f *interp.Failure
	if !errors.As(err, &f) || f.Name != "CampaignFailed" || unloads == 0 {
		t.Fatalf("run: %v (%d unload tasks), want CampaignFailed", err, unloads)
	}
	var in struct{ Error struct{ Error, Cause string } }
	json.Unmarshal(failed, &in)
	if in.Error.Error != "AthenaQueryFailed" || !strings.Contains(in.Error.Cause, `"StateChangeReason":"only UNLOAD`) {
		t.Fatalf("FailRun got %s, want AthenaQueryFailed with Athena's reason", failed)
	}
}
