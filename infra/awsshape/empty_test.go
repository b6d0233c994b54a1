package awsshape_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/builtin/emptycase"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// TestEmptyPopulations runs the registry's empty-population cases (one per
// activity type, every input empty) AWS-style, live then in test mode, and
// requires each to succeed with 0 on every port and the same summary as the
// local executor. Files are read from S3 (s3:// sources and parameters).
func TestEmptyPopulations(t *testing.T) {
	t.Parallel() // the long shapes run two at a time: they mostly wait on their functions
	if miss := emptycase.Missing(builtin.Registry().Types()); len(miss) > 0 {
		t.Fatalf("activity types without an empty-population case: %v", miss)
	}
	data := sampleData(t)
	local, remote := t.TempDir(), t.TempDir()
	files, err := emptycase.WriteTo(local)
	if err != nil {
		t.Fatal(err)
	}
	remoteFiles, err := emptycase.WriteTo(remote)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copyTree(t, data, filepath.Join(local, "data"))
	if err := os.WriteFile(filepath.Join(local, "catalog.yaml"), cat, 0o600); err != nil {
		t.Fatal(err)
	}
	s3cat := strings.ReplaceAll(string(cat), "source: data/", "source: s3://"+bucket+"/data/")
	if err := os.WriteFile(filepath.Join(remote, "catalog.yaml"), []byte(s3cat), 0o600); err != nil {
		t.Fatal(err)
	}
	fileParam := map[string]any{"file": "s3://" + bucket + "/uploads/files/header-only.csv"}

	var live, test, localLive, localTest []run
	need := map[string]bool{}
	for _, typ := range emptycase.Types() {
		lp := compileFile(t, files[typ], filepath.Join(local, "catalog.yaml"))
		rp := compileFile(t, remoteFiles[typ], filepath.Join(remote, "catalog.yaml"))
		for _, f := range functionsOf(rp.JSON) {
			need[f] = true
		}
		var params map[string]any
		if _, ok := rp.Campaign.Parameters["file"]; ok {
			params = fileParam
		}
		liveID, testID := state.NewRunID(), state.NewRunID()
		live = append(live, run{name: typ, program: rp, params: params, runID: liveID})
		test = append(test, run{name: typ + " (test)", program: rp, params: params, runID: testID, test: true})
		localLive = append(localLive, run{name: typ, program: lp, runID: liveID})
		localTest = append(localTest, run{name: typ + " (test)", program: lp, runID: testID, test: true})
	}
	var names []string
	for n := range need {
		names = append(names, n)
	}
	sh := startShape(t, names...)
	ctx := context.Background()
	uploads := map[string]string{"uploads/files/header-only.csv": filepath.Join(local, "header-only.csv")}
	for _, name := range []string{"customers", "purchases", "stores"} {
		uploads["data/"+name+".parquet"] = filepath.Join(data, name+".parquet")
	}
	for key, path := range uploads {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = sh.blob.Put(ctx, key, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}

	// One local home, live runs first: a test run reads the audiences the
	// live runs saved, as on AWS.
	home, err := executor.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer home.Close()
	for _, batch := range [][2][]run{{live, localLive}, {test, localTest}} {
		outs := sh.runAWS(t, batch[0])
		for i, r := range batch[0] {
			lr := batch[1][i]
			want, err := home.Run(ctx, lr.program, executor.Options{RunID: lr.runID, Test: lr.test, Params: lr.params, Wait: interp.WaitSkip})
			if want == nil {
				t.Fatalf("%s locally: %v", lr.name, err)
			}
			sh.checkEmpty(t, r, outs[i], want)
		}
	}
	sh.logInvocations(t)
}

// checkEmpty checks one AWS-shaped empty-population run against its case and
// against the local summary.
func (sh *shape) checkEmpty(t *testing.T, r run, o lambdalocal.Outcome, want *runner.Summary) {
	t.Helper()
	typ := strings.TrimSuffix(r.name, " (test)")
	if err := emptycase.Check(typ, want); err != nil {
		t.Errorf("%s locally:\n%v", r.name, err)
	}
	if o.Error != "" {
		t.Errorf("%s: execution failed: %s: %s", r.name, o.Error, o.Cause)
		for id, a := range sh.storedSummary(t, r.runID).Activities {
			if a.Error != "" {
				t.Logf("%s: activity %s %s: %s", r.name, id, a.Status, a.Error)
			}
		}
		return
	}
	var got runner.Summary
	if err := json.Unmarshal(o.Output, &got); err != nil {
		t.Errorf("%s: execution output is no run summary: %v\n%s", r.name, err, o.Output)
		return
	}
	if err := emptycase.Check(typ, &got); err != nil {
		t.Errorf("%s AWS-style:\n%v", r.name, err)
	}
	sh.compare(t, r, want, &got)
}
