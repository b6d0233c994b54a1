package awsshape_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/state"
)

// TestEmailSlicesOutlastInvocations runs an email activity whose slices
// cannot be sent in one invocation: the Email function has an 8 s timeout
// and SEND_RATE=5, and a slice holds at least 100 recipients. Each slice
// stops before its deadline and hands its remainder on (the Map loops the
// slice's Task); the run succeeds with the local run's counts, no
// invocation fails or times out, and the fake SES received exactly one
// message per recipient sent.
func TestEmailSlicesOutlastInvocations(t *testing.T) {
	root := repoRoot(t)
	data := sampleData(t)
	local, remote := t.TempDir(), t.TempDir()
	cat, err := os.ReadFile(filepath.Join(root, "examples", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	campaign, err := os.ReadFile("testdata/slices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	copyTree(t, data, filepath.Join(local, "data"))
	os.Remove(filepath.Join(local, "data", "catalog.yaml"))
	for dir, c := range map[string]string{local: string(cat), remote: strings.ReplaceAll(string(cat), "source: data/", "source: s3://"+bucket+"/data/")} {
		if err := os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "slices.yaml"), campaign, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	lp := compileFile(t, filepath.Join(local, "slices.yaml"), filepath.Join(local, "catalog.yaml"))
	rp := compileFile(t, filepath.Join(remote, "slices.yaml"), filepath.Join(remote, "catalog.yaml"))

	const timeout = 8 * time.Second
	sh := startShapeWith(t, shapeOptions{Over: map[string]lambdalocal.Function{"Email": {Timeout: timeout, Env: map[string]string{"SEND_RATE": "5"}}}}, functionsOf(rp.JSON)...)
	f, err := os.Open(filepath.Join(data, "customers.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	err = sh.blob.Put(context.Background(), "data/customers.parquet", f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer sh.logInvocations(t)
	id := state.NewRunID()
	r := run{name: "slices", program: rp, runID: id}
	start := time.Now()
	o := sh.runAWS(t, []run{r})[0]
	t.Logf("AWS-style run in %s", time.Since(start).Round(time.Millisecond))
	sh.checkAgainst(t, run{name: "slices", program: lp, runID: id}, r, o)

	var sum struct {
		Activities map[string]struct {
			Ports map[string]int64 `json:"ports"`
		} `json:"activities"`
	}
	json.Unmarshal(o.Output, &sum)
	sent := sum.Activities["receipt"].Ports["out"]
	if sent < 120 {
		t.Fatalf("%d sent: too few recipients for slices to outlast %s at 5/s", sent, timeout)
	}
	per := map[string]int{}
	for _, m := range sh.ses.Messages() {
		per[m.Tags["recipient"]]++
	}
	for rcpt, n := range per {
		if n != 1 {
			t.Errorf("%s received %d messages", rcpt, n)
		}
	}
	if int64(len(per)) != sent || int64(len(sh.ses.Messages())) != sent {
		t.Errorf("SES received %d messages for %d recipients, the run reports %d sent", len(sh.ses.Messages()), len(per), sent)
	}
	// Plan, finish, and per slice (100 recipients) one send: anything more
	// is a slice handed on. None may fail (a timeout is an error).
	calls, slices := 0, int((sent+99)/100)
	for _, inv := range sh.fns.Router.Invocations() {
		if inv.Function != "Email" {
			continue
		}
		calls++
		if inv.ErrorType != "" || inv.Duration >= timeout {
			t.Errorf("Email invocation at %s: %s in %s", inv.Start.Format(time.StampMilli), inv.ErrorType, inv.Duration)
		}
	}
	if calls <= slices+2 {
		t.Errorf("%d Email invocations for %d slices: no slice was handed on", calls, slices)
	}
	t.Logf("%d recipients, %d Email invocations", sent, calls)
}
