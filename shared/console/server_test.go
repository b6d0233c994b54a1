package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/examples"
	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

const token = "console-test-token-0123456789"

// server is what `stepwise serve` runs: the API over a local home, the console
// in front of it, on 127.0.0.1 and a free port; the examples and sample data in
// its folder, and the win-back campaign created as a draft.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	hs, _ := serverHome(t)
	return hs
}

// serverHome is server with its home, for tests that record run states.
func serverHome(t *testing.T) (*httptest.Server, *executor.Local) {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, examples.FS); err != nil {
		t.Fatal(err)
	}
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: 400, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := &local.Backend{L: l, Logger: logger}
	srv := api.NewServer(api.Options{Store: l.State, Sources: api.DirSources{Dir: dir}, Schemas: l.Compiler.Schemas, Bundles: l.Bundles,
		Executor: b, Previewer: b, Uploads: b, Feedback: b, Authorize: api.BearerToken(token), Logger: logger})
	hs := httptest.NewServer(console.New(console.Options{API: srv, Token: token, Specs: l.Compiler.Registry, LiveEvery: 50 * time.Millisecond, Heartbeat: 200 * time.Millisecond, Logger: logger}))
	t.Cleanup(func() {
		hs.Close()
		b.StopAll()
		b.Wait(context.Background())
		b.Close()
		l.Close()
	})
	src, err := os.ReadFile(filepath.Join(dir, "winback.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	create(t, hs.URL, string(src))
	return hs, l
}
