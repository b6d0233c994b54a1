package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/state"
)

const triggerTarget = `version: 1
id: trig-target
dimension: customers
parameters:
  region: { type: string }
  n: { type: integer, default: 1 }
activities:
  - { id: start, type: scheduler, every: 1d }
  - { id: note, type: alert, from: start, title: target }
  - { id: done, type: end, from: note }
`

const triggerCaller = `version: 1
id: trig-caller
dimension: customers
parameters:
  region: { type: string, default: EU }
activities:
  - { id: start, type: scheduler, every: 1d }
  - { id: note, type: alert, from: start, title: caller }
  - { id: done, type: end, from: note, trigger: { campaign: trig-target, parameters: { region: { param: region }, n: 3 } } }
`

// publishInHome publishes a campaign in a local home as serve would.
func publishInHome(t *testing.T, home, doc string) {
	t.Helper()
	l, err := executor.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	srv := api.NewServer(api.Options{Store: l.State, Sources: api.DirSources{Dir: "testdata"}, Bundles: l.Bundles,
		Executor: &local.Backend{L: l}, Authorize: func(*http.Request) bool { return true }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	for _, path := range []string{"/v1/campaigns", "/v1/campaigns/trig-target/publish"} {
		body, _ := json.Marshal(map[string]any{"source": doc})
		if strings.HasSuffix(path, "publish") {
			body = nil
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		srv.ServeHTTP(rec, req)
		if rec.Code >= 300 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// stepwise run: an end activity's trigger: starts the other campaign's published
// version in the home with the passed parameters, and the command waits for it.
func TestRunEndTriggersPublishedCampaign(t *testing.T) {
	home := t.TempDir()
	publishInHome(t, home, triggerTarget)
	caller := filepath.Join(t.TempDir(), "caller.yaml")
	if err := os.WriteFile(caller, []byte(triggerCaller), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := runRun([]string{caller, "--catalog", "testdata/catalog.yaml", "--home", home, "--wait", "skip", "--param", "region=FR"}, &out, &errb); rc != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", rc, out.String(), errb.String())
	}
	l, err := executor.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	runs, _, err := l.State.ListRuns(context.Background(), "trig-target", state.Page{})
	if err != nil || len(runs) != 1 {
		t.Fatalf("target runs: %v, %v", runs, err)
	}
	r := runs[0]
	if r.Status != state.RunSucceeded || r.Version != 1 || r.Params["region"] != "FR" || r.Params["n"] != float64(3) {
		t.Fatalf("target run: %+v", r)
	}
}
