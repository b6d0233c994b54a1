package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

const proofCampaign = `version: 1
id: proofs
dimension: customers
activities:
  - { id: all, type: build-audience }
  - id: mail
    type: email
    from: all
    message: { from: "Shop <news@shop.example>", subject: "Hi {{ recipient.firstName }}", html: "<p>Hi</p>", text: "Hi" }
`

// A test run's sample of rendered messages is served per activity; a live
// run's, a non-channel activity's and an unknown activity's are 404.
func TestProofsRoute(t *testing.T) {
	e := newEnv(t, time.Hour)
	dir := t.TempDir()
	ctx := context.Background()
	if err := sampledata.Generate(ctx, dir, sampledata.Options{Customers: 20, Seed: 1, Today: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Threads: 1}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "proofs.yaml")
	os.WriteFile(file, []byte(proofCampaign), 0o644)
	p, diags := builtin.CompileFiles(file, "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	run := func(test bool) string {
		sum, err := e.l.Run(ctx, p, executor.Options{Test: test, Wait: interp.WaitSkip})
		if err != nil || sum.Status != "succeeded" {
			t.Fatalf("run: %v %+v", err, sum)
		}
		return sum.RunID
	}
	test, live := run(true), run(false)
	r := e.expect(e.do("GET", "/v1/runs/"+test+"/activities/mail/proofs", nil), 200, "proofs")
	var pl api.ProofList
	if err := json.Unmarshal(r.raw, &pl); err != nil {
		t.Fatal(err)
	}
	if pl.RunID != test || pl.Activity != "mail" || len(pl.Proofs) != 5 {
		t.Fatalf("proofs: %s", r.raw)
	}
	for i, pr := range pl.Proofs {
		if i > 0 && pl.Proofs[i-1].Recipient >= pr.Recipient {
			t.Fatalf("not in key order: %s", r.raw)
		}
		if pr.Channel != "email" || !strings.HasPrefix(pr.Subject, "Hi ") || pr.HTML != "<p>Hi</p>" || pr.Text != "Hi" ||
			!strings.Contains(pr.EML, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") || pr.UnsubscribeURL == "" {
			t.Fatalf("proof %+v", pr)
		}
	}
	for path, code := range map[string]string{
		"/v1/runs/" + live + "/activities/mail/proofs": "not_found",
		"/v1/runs/" + test + "/activities/all/proofs":  "not_found",
		"/v1/runs/" + test + "/activities/nope/proofs": "not_found",
		"/v1/runs/" + test + "/activities/a.b/proofs":  "invalid_id",
	} {
		r := e.do("GET", path, nil)
		if r.errCode() != code {
			t.Errorf("%s: %d %s, want %s", path, r.status, r.raw, code)
		}
	}
	if r := e.do("GET", "/v1/runs/"+live+"/activities/mail/proofs", nil); !strings.Contains(string(r.raw), "kept no proofs (only channel activities of test runs do)") {
		t.Errorf("live run: %s", r.raw)
	}
}
