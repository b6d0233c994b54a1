package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
)

// A campaign is at most 1 MiB: one byte more is 413 naming the bound; the default body
// cap leaves room for such a document escaped in JSON, and no more.
func TestCampaignSizeBound(t *testing.T) {
	e := newEnvWith(t, -1, func(o *api.Options) { o.MaxBody = 0 }) // the default cap
	src := source(t) + "# "
	pad := func(n int) string { return src + strings.Repeat("x", n-len(src)-1) + "\n" }
	atBound := pad(api.MaxCampaignBytes)
	if len(atBound) != api.MaxCampaignBytes {
		t.Fatalf("fixture is %d bytes", len(atBound))
	}
	e.expect(e.do("POST", "/v1/validate", map[string]any{"source": atBound}), 200, "a 1 MiB campaign")
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": atBound}), 201, "a 1 MiB campaign is saved")
	over := pad(api.MaxCampaignBytes + 1)
	for _, path := range []string{"/v1/campaigns", "/v1/validate", "/v1/campaigns/flow-only"} {
		method := "POST"
		if path == "/v1/campaigns/flow-only" {
			method = "PUT"
		}
		r := e.expect(e.do(method, path, map[string]any{"source": over}), 413, method+" "+path+" over 1 MiB")
		if r.errCode() != "body_too_large" || r.errPath() != "$.source" || !strings.Contains(r.raw2(), "at most 1 MiB") {
			t.Fatalf("%s %s: %s", method, path, r.raw)
		}
	}
	// Beyond the body cap (2 MiB), the body is not read further.
	huge := `{"source": "` + strings.Repeat("y", 2<<20) + `"}`
	r := e.expect(e.do("POST", "/v1/campaigns", huge), 413, "a body over 2 MiB")
	if r.errCode() != "body_too_large" || !strings.Contains(r.raw2(), "larger than 2 MiB") {
		t.Fatalf("body cap: %s", r.raw)
	}
}

// stuckCatalog never answers until released: work that ignores its context.
type stuckCatalog struct {
	api.Sources
	release chan struct{}
}

func (s stuckCatalog) Catalog(ctx context.Context) (string, []byte, error) {
	<-s.release
	return s.Sources.Catalog(ctx)
}

// politeCatalog waits for the request's context to end and says when it returned.
type politeCatalog struct {
	api.Sources
	returned chan struct{}
}

func (s politeCatalog) Catalog(ctx context.Context) (string, []byte, error) {
	defer close(s.returned)
	<-ctx.Done()
	return "", nil, ctx.Err()
}

// A request that computes past its deadline is answered 503 deadline_exceeded (JSON)
// even when the work ignores its context; work that honours it is cancelled.
func TestRequestDeadline(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	e := newEnvWith(t, -1, func(o *api.Options) {
		o.RequestTimeout = 50 * time.Millisecond
		o.Sources = stuckCatalog{Sources: o.Sources, release: release}
	})
	r := e.expect(e.do("POST", "/v1/validate", map[string]any{"source": source(t)}), 503, "stuck validation")
	if r.errCode() != "deadline_exceeded" || r.header.Get("Content-Type") != "application/json" || !strings.Contains(r.raw2(), "cancelled") {
		t.Fatalf("deadline: %s %v", r.raw, r.header)
	}
	// Work that needs no catalog still answers.
	e.expect(e.do("GET", "/v1/campaigns", nil), 200, "list")

	returned := make(chan struct{})
	e2 := newEnvWith(t, -1, func(o *api.Options) {
		o.RequestTimeout = 50 * time.Millisecond
		o.Sources = politeCatalog{Sources: o.Sources, returned: returned}
	})
	r = e2.expect(e2.do("POST", "/v1/validate", map[string]any{"source": source(t)}), 503, "cancelled validation")
	if r.errCode() != "deadline_exceeded" {
		t.Fatalf("deadline: %s", r.raw)
	}
	<-returned // the catalog read saw the cancellation and the handler went on to end
}
