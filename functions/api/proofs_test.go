package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

const proofCampaign = `version: 1
id: rep
dimension: customers
activities:
  - { id: all, type: build-audience }
  - id: mail
    type: email
    from: all
    message: { from: "Shop <news@shop.example>", subject: "Hi {{ recipient.firstName }}", html: "<p>Dear {{ recipient.firstName }}</p>", text: "Hi" }
`

// invokeJSON sends one HTTP API (payload 2.0) event with a JSON body.
func invokeJSON(t *testing.T, fn func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error), method, target, body string) events.APIGatewayV2HTTPResponse {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: method + " " + path, RawPath: path, RawQueryString: query, Body: body,
		Headers: map[string]string{"x-forwarded-proto": "https", "host": domain, "content-type": "application/json"}}
	ev.RequestContext.DomainName = domain
	ev.RequestContext.HTTP.Method = method
	res, err := fn(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Through API Gateway, the API renders chosen recipients of a test run's
// email again from its send plan with the function's renderer (no longer
// 501 on AWS), signing unsubscribe links for the API's own URL as the
// Email function does (PUBLIC_URL there).
func TestRunProofsThroughAPIGateway(t *testing.T) {
	dir := t.TempDir()
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: 12, Seed: 1,
		Today: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Threads: 1}); err != nil {
		t.Fatal(err)
	}
	cat, err := os.ReadFile(filepath.Join(dir, "data", "catalog.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(strings.ReplaceAll(string(cat), "source: ", "source: data/")), 0o644)
	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &local.Backend{L: l, WaitMode: interp.WaitSkip, Concurrency: 1, Logger: quiet}
	t.Cleanup(func() {
		b.StopAll()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b.Wait(ctx)
		b.Close()
		l.Close()
	})
	cfg := lambdafn.Config{UnsubscribeSecret: strings.Repeat("s", 48), WorkDir: t.TempDir()}
	renderer, seeHost := proofRenderer(channelfn.Stores{Blob: l.Blob, State: l.State, WorkDir: cfg.WorkDir}, cfg)
	// The executor runs test runs here; the renderer is the function's.
	h := api.New(api.Options{Store: l.State, Sources: api.DirSources{Dir: dir}, Schemas: l.Compiler.Schemas, Bundles: l.Bundles,
		Executor: b, Previewer: b, Renderer: renderer, Authorize: api.TrustGateway, UnsubscribeSecret: []byte(cfg.UnsubscribeSecret), Logger: quiet})
	c, err := consoleFor(cfg, h, l.State)
	if err != nil {
		t.Fatal(err)
	}
	fn := lambdafn.HTTP(seeHost(c))

	src, _ := json.Marshal(map[string]string{"source": proofCampaign})
	if res := invokeJSON(t, fn, "POST", "/v1/campaigns", string(src)); res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, res.Body)
	}
	res := invokeJSON(t, fn, "POST", "/v1/campaigns/rep/test-run?wait=30s", "{}")
	var run struct{ ID, Status string }
	json.Unmarshal([]byte(res.Body), &run)
	if res.StatusCode != 200 || run.Status != "succeeded" {
		t.Fatalf("test run: %d %s", res.StatusCode, res.Body)
	}
	res = invokeJSON(t, fn, "GET", "/v1/runs/"+run.ID+"/activities/mail/proofs?sample=2", "")
	var pl api.ProofList
	json.Unmarshal([]byte(res.Body), &pl)
	if res.StatusCode != 200 || len(pl.Proofs) != 2 {
		t.Fatalf("GET proofs: %d %s", res.StatusCode, res.Body)
	}
	for _, p := range pl.Proofs {
		if !strings.HasPrefix(p.Subject, "Hi ") || !strings.HasPrefix(p.UnsubscribeURL, "https://"+domain+"/unsubscribe/") ||
			!strings.Contains(p.EML, "List-Unsubscribe: <https://"+domain+"/unsubscribe/") {
			t.Errorf("proof %+v", p)
		}
	}
	key := pl.Proofs[1].Recipient
	res = invokeJSON(t, fn, "GET", "/v1/runs/"+run.ID+"/activities/mail/proofs?key="+key, "")
	if json.Unmarshal([]byte(res.Body), &pl); res.StatusCode != 200 || len(pl.Proofs) != 1 || pl.Proofs[0].Recipient != key {
		t.Fatalf("GET proofs by key: %d %s", res.StatusCode, res.Body)
	}
}
