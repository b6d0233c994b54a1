package awsshape_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/state"
)

// tmpSlack is what an empty /tmp may use: the scratch root's directory
// entry. Stepwise keeps no cache in /tmp across invocations (docs/deploy.md),
// so this is the whole budget a warm function may carry over.
const tmpSlack = 16 << 10

// tmpRoot is all a function's /tmp may hold between invocations.
var tmpRoot = []string{"/tmp/" + lambdafn.ScratchFolder}

// checkTmp fails t when a function's /tmp holds more than its empty
// scratch root.
func (sh *shape) checkTmp(t *testing.T, when string, names ...string) {
	t.Helper()
	for _, n := range names {
		u, err := sh.fns.RIEs[n].Tmp()
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		// A function never invoked (FailRun in a run that succeeds) has
		// not made its scratch root.
		if u.Used > tmpSlack || len(u.Files) > 0 && !slices.Equal(u.Files, tmpRoot) {
			files := u.Files
			if len(files) > 8 {
				files = append(files[:8:8], fmt.Sprintf("and %d more", len(u.Files)-8))
			}
			t.Errorf("%s: %s, its /tmp holds %d bytes: %s", n, when, u.Used, strings.Join(files, " "))
		}
	}
}

// winback compiles examples/winback.yaml against the catalog on S3: a
// build-audience, an enrichment and two email activities, among others.
func winback(t *testing.T) (names []string, r run) {
	t.Helper()
	dir := s3Examples(t)
	p := compileFile(t, filepath.Join(dir, "winback.yaml"), filepath.Join(dir, "catalog.yaml"))
	return functionsOf(p.JSON), run{name: "winback", program: p}
}

// TestTmpStaysBounded runs the winback campaign three times on the same
// warm functions, and the feedback function on three batches: after each,
// every function's /tmp is as it was before its first invocation. Lambda
// keeps /tmp for an execution environment's life; a function that left its
// downloads, snapshots and outputs there filled it in a few runs.
func TestTmpStaysBounded(t *testing.T) {
	require(t, strictWhy())
	names, r := winback(t)
	for _, n := range []string{"BuildAudience", "Enrichment", "Email"} {
		if !slices.Contains(names, n) {
			t.Fatalf("winback no longer runs %s: %v", n, names)
		}
	}
	all := append(slices.Clone(names), "Feedback")
	sh := startShape(t, all...)
	sh.uploadSample(t)
	batch, err := os.ReadFile(filepath.Join(sh.root, "events", "feedback.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for round := 1; round <= 3; round++ {
		r.runID = state.NewRunID()
		o := sh.runAWS(t, []run{r})[0]
		if o.Error != "" {
			t.Fatalf("round %d: %s: %s", round, o.Error, o.Cause)
		}
		if s := sh.storedSummary(t, r.runID); s.Status != string(state.RunSucceeded) {
			t.Fatalf("round %d: run %s: %s", round, s.Status, s.Reason)
		}
		res, err := sh.fns.RIEs["Feedback"].Invoke(ctx, batch)
		if err != nil || res.FunctionError != "" {
			t.Fatalf("round %d: feedback: %v %s", round, err, res.Payload)
		}
		sh.checkTmp(t, fmt.Sprintf("after round %d", round), all...)
	}
}

// TestTmpTooSmall gives BuildAudience a /tmp smaller than the source it
// downloads: the run fails naming ENOSPC (no space left on device), writes
// no output, and the function's /tmp is empty again, ready for the next
// invocation.
func TestTmpTooSmall(t *testing.T) {
	require(t, strictWhy())
	names, r := winback(t)
	sh := startShapeTmp(t, map[string]int64{"BuildAudience": 64 << 10}, names...)
	sh.uploadSample(t)
	r.runID = state.NewRunID()
	sh.runAWS(t, []run{r})
	s := sh.storedSummary(t, r.runID)
	a := s.Activities["lapsed"]
	if s.Status != string(state.RunFailed) || a.Status != string(state.TaskFailed) || !strings.Contains(a.Error, "no space left on device") {
		t.Errorf("run %s (%s), lapsed %s: %s; want both failed, naming ENOSPC", s.Status, s.Reason, a.Status, a.Error)
	}
	for info, err := range sh.blob.List(context.Background(), "runs/"+r.runID+"/lapsed") {
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("the failed activity left %s", info.Key)
	}
	sh.checkTmp(t, "after the failed run", "BuildAudience")
}
