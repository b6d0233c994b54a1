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

	"github.com/stepwise-run/stepwise/examples"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

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

// Through API Gateway, the API renders chosen recipients of a test run of
// the newsletter example (its email and its push) again from its send plan with the function's renderer (no longer
// 501 on AWS), signing unsubscribe links for the API's own URL as the
// Email function does (PUBLIC_URL there).
func TestRunProofsThroughAPIGateway(t *testing.T) {
	// The examples, their catalog over generated sample data (as `stepwise serve` in a checkout).
	dir := t.TempDir()
	if err := os.CopyFS(dir, examples.FS); err != nil {
		t.Fatal(err)
	}
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: 400, Seed: 1,
		Today: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Threads: 1}); err != nil {
		t.Fatal(err)
	}
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

	src, err := examples.FS.ReadFile("newsletter.yaml")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]string{"source": string(src)})
	if res := invokeJSON(t, fn, "POST", "/v1/campaigns", string(body)); res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, res.Body)
	}
	const id = "weekly-newsletter"
	res := invokeJSON(t, fn, "POST", "/v1/campaigns/"+id+"/test-run?wait=30s", "{}")
	var run struct{ ID, Status string }
	json.Unmarshal([]byte(res.Body), &run)
	if res.StatusCode != 200 || run.Status != "succeeded" {
		t.Fatalf("test run: %d %s", res.StatusCode, res.Body)
	}
	res = invokeJSON(t, fn, "GET", "/v1/runs/"+run.ID+"/activities/sendMail/proofs?sample=2", "")
	var pl api.ProofList
	json.Unmarshal([]byte(res.Body), &pl)
	if res.StatusCode != 200 || len(pl.Proofs) != 2 {
		t.Fatalf("GET proofs: %d %s", res.StatusCode, res.Body)
	}
	for _, p := range pl.Proofs {
		if !strings.HasPrefix(p.Subject, "Your weekly news, ") || !strings.HasPrefix(p.UnsubscribeURL, "https://"+domain+"/unsubscribe/") ||
			!strings.Contains(p.Text, "Unsubscribe: https://"+domain+"/unsubscribe/") || !strings.Contains(p.EML, "List-Unsubscribe: <https://"+domain+"/unsubscribe/") {
			t.Errorf("proof %+v", p)
		}
	}
	key := pl.Proofs[1].Recipient
	res = invokeJSON(t, fn, "GET", "/v1/runs/"+run.ID+"/activities/sendMail/proofs?key="+key, "")
	if json.Unmarshal([]byte(res.Body), &pl); res.StatusCode != 200 || len(pl.Proofs) != 1 || pl.Proofs[0].Recipient != key {
		t.Fatalf("GET proofs by key: %d %s", res.StatusCode, res.Body)
	}
	res = invokeJSON(t, fn, "GET", "/v1/runs/"+run.ID+"/activities/sendPush/proofs?sample=1", "")
	if json.Unmarshal([]byte(res.Body), &pl); res.StatusCode != 200 || len(pl.Proofs) != 1 || pl.Proofs[0].Channel != "push" || pl.Proofs[0].Title != "New this week" {
		t.Fatalf("GET push proofs: %d %s", res.StatusCode, res.Body)
	}
}
