package api_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/state"
)

// switchable sources and bundles fail once broken is set.
type switchable struct {
	api.Sources
	api.Bundles
	noCatalog, noBundles atomic.Bool
}

func (s *switchable) Catalog(ctx context.Context) (string, []byte, error) {
	if s.noCatalog.Load() {
		return api.DirSources{Dir: "testdata", CatalogFile: "testdata/no-such-catalog.yaml"}.Catalog(ctx)
	}
	return s.Sources.Catalog(ctx)
}

func (s *switchable) Publish(ctx context.Context, id string, b *compile.Bundle) error {
	if s.noBundles.Load() {
		return errors.New("bundle store unreachable")
	}
	return s.Bundles.Publish(ctx, id, b)
}

// snapshot renders everything the mutating routes may change.
func snapshot(t *testing.T, st state.Store) string {
	t.Helper()
	ctx := context.Background()
	cs, err := st.ListCampaigns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %s rev %d v%d %q\n", c.ID, c.Status, c.Rev, c.PublishedVersion, c.Draft)
		vs, _ := st.ListVersions(ctx, c.ID)
		runs, _, _ := st.ListRuns(ctx, c.ID, state.Page{})
		fmt.Fprintf(&b, "  %d versions, %d runs\n", len(vs), len(runs))
	}
	return b.String()
}

// A request that fails on a missing or failing dependency changes nothing, and says
// what is missing instead of a bare 500.
func TestFailedRequestsChangeNothing(t *testing.T) {
	sw := &switchable{}
	e := newEnvWith(t, -1, func(o *api.Options) {
		sw.Sources, sw.Bundles = o.Sources, o.Bundles
		o.Sources, o.Bundles = sw, sw
	})
	src := source(t)
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": src}), 201, "create")
	other := strings.Replace(src, "id: flow-only", "id: flow-two", 1)
	edited := strings.Replace(src, "name: Flow only", "name: Flow edited", 1)
	type call struct {
		method, path string
		body         any
	}
	mutating := []call{
		{"POST", "/v1/campaigns", map[string]any{"source": other}},
		{"PUT", "/v1/campaigns/flow-only", map[string]any{"source": edited}},
		{"POST", "/v1/campaigns/flow-only/publish", nil},
		{"POST", "/v1/campaigns/flow-only/test-run", map[string]any{}},
	}
	before := snapshot(t, e.l.State)

	sw.noCatalog.Store(true)
	for _, c := range append(mutating, call{"POST", "/v1/campaigns/flow-only/validate", nil}, call{"POST", "/v1/validate", map[string]any{"source": src}}) {
		r := e.do(c.method, c.path, c.body)
		if r.status != 503 || r.errCode() != "not_configured" || !strings.Contains(r.raw2(), "catalog") {
			t.Fatalf("%s %s without a catalog: want 503 not_configured naming the catalog, got %d %s", c.method, c.path, r.status, r.raw)
		}
		if after := snapshot(t, e.l.State); after != before {
			t.Fatalf("%s %s failed but changed the state:\nbefore:\n%s\nafter:\n%s", c.method, c.path, before, after)
		}
	}
	sw.noCatalog.Store(false)

	sw.noBundles.Store(true)
	for _, c := range mutating[2:] {
		r := e.do(c.method, c.path, c.body)
		if r.status < 500 {
			t.Fatalf("%s %s with the bundle store down: %d %s", c.method, c.path, r.status, r.raw)
		}
		if after := snapshot(t, e.l.State); after != before {
			t.Fatalf("%s %s failed but changed the state:\nbefore:\n%s\nafter:\n%s", c.method, c.path, before, after)
		}
	}
	sw.noBundles.Store(false)

	// Repaired, every request goes through: nothing was left half-done.
	e.expect(e.do("POST", "/v1/campaigns", map[string]any{"source": other}), 201, "create after the repair")
	e.expect(e.do("PUT", "/v1/campaigns/flow-only", map[string]any{"source": edited}), 200, "update after the repair")
	e.expect(e.do("POST", "/v1/campaigns/flow-only/publish", nil), 200, "publish after the repair")
}
