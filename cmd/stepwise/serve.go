package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/local"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/console"
	"github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// TokenEnv holds the bearer token `serve` requires on every route but unsubscribe.
const TokenEnv = "STEPWISE_TOKEN"

func init() {
	register("serve", command{summary: "serve the HTTP API and the web console locally, with the scheduler; token from STEPWISE_TOKEN",
		usage: "serve [--addr 127.0.0.1:8080] [--home DIR] [--dir DIR] [--catalog FILE] [--request-timeout 90s] [--file-root DIR|s3://B/P]...", run: runServe})
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	home := fs.String("home", ".stepwise", "local state folder (datasets, runs, outbox)")
	dir := fs.String("dir", ".", "folder `DIR` that campaigns' template file: names and load-file paths resolve against; its catalog.yaml is the default catalog")
	catalog := fs.String("catalog", "", "catalog file (default: catalog.yaml in --dir)")
	wait := fs.String("wait", "real", "wait states: real, skip, or scale=N")
	interval := fs.Duration("trigger-interval", api.DefaultTriggerInterval, "least time between two triggers of a campaign (0: no limit)")
	grace := fs.Duration("grace", scheduler.DefaultGrace, "how late a scheduled slot may still start; later it is recorded expired")
	concurrency := fs.Int("concurrency", 4, "runs executing at once")
	timeout := fs.Duration("request-timeout", api.DefaultMaxWait+30*time.Second, "a request computing longer is cancelled and answered 503 (uploads excepted)")
	noScheduler := fs.Bool("no-scheduler", false, "do not fire schedules")
	var roots listFlag
	fs.Var(&roots, "file-root", fileRootUsage)
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagExit(err)
	}
	token := os.Getenv(TokenEnv)
	if len(token) < 16 {
		fmt.Fprintf(stderr, "stepwise serve: set %s to a secret of at least 16 characters (the API's bearer token)\n", TokenEnv)
		return 2
	}
	wm, err := interp.ParseWaitMode(*wait)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise serve: --wait: %v\n", err)
		return 2
	}
	l, err := openHome(*home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise serve: %v\n", err)
		return 1
	}
	defer l.Close()
	if err := l.AllowFiles(roots...); err != nil {
		fmt.Fprintf(stderr, "stepwise serve: --file-root: %v\n", err)
		return 2
	}
	secret, err := unsubscribe.LocalSecret(l.Home)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise serve: unsubscribe secret: %v\n", err)
		return 1
	}
	logger := slog.New(slog.NewJSONHandler(stderr, nil))
	backend := &local.Backend{L: l, WaitMode: wm, Concurrency: *concurrency, Logger: logger}
	defer backend.Close()
	if _, _, err := backend.Recover(context.Background()); err != nil {
		fmt.Fprintf(stderr, "stepwise serve: %v\n", err)
		return 1
	}
	ti := *interval
	if ti == 0 {
		ti = -1
	}
	sources := api.DirSources{Dir: *dir, CatalogFile: *catalog}
	if path, data, err := sources.Catalog(context.Background()); err != nil {
		fmt.Fprintf(stderr, "stepwise serve: warning: no catalog (%s): campaigns cannot be saved, validated, published or test-run until it exists; use --catalog FILE\n", path)
	} else if cat, _ := campaign.ParseCatalog(path, data); cat != nil {
		if h := exampleDataHint(cat); h != "" {
			fmt.Fprintf(stderr, "stepwise serve: warning: %s\n", h) // runs would fail
		}
	}
	srv := api.NewServer(api.Options{Store: l.State, Sources: sources, Schemas: l.Compiler.Schemas, Bundles: l.Bundles,
		Executor: backend, Previewer: backend, Uploads: backend, Feedback: backend, Authorize: api.BearerToken(token), UnsubscribeSecret: secret,
		TriggerInterval: ti, RequestTimeout: *timeout, Logger: logger})
	backend.SetTriggerer(srv) // an end activity's trigger: starts the other campaign's run

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "stepwise serve: %v\n", err)
		return 1
	}
	// The console at / beside the API: same handlers, same token (exchanged for
	// a session sealed with a key derived from the token: sessions survive a
	// restart, a new token ends them; logouts are kept in the home's store).
	con, err := console.Open(console.Options{API: srv, Token: token, Specs: l.Compiler.Registry, SessionSecrets: [][]byte{[]byte(token)}, Revoked: l.State, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "stepwise serve: %v\n", err)
		return 1
	}
	hs := &http.Server{Handler: con, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute}
	hs.RegisterOnShutdown(con.Close) // live streams end rather than hold the shutdown
	done := make(chan struct{})
	if !*noScheduler {
		sch := &scheduler.Scheduler{Store: l.State, Fire: srv.Fire, Grace: *grace, Logger: logger}
		go func() { defer close(done); sch.Run(ctx) }()
	} else {
		close(done)
	}
	fmt.Fprintf(stdout, "stepwise serve: http://%s (home %s)\n", ln.Addr(), l.Home)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(stderr, "stepwise serve: %v\n", err)
			return 1
		}
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	<-done
	// Runs in flight are recorded interrupted (suspended): a restarted server does not resume them by itself; resume does.
	backend.StopAll()
	backend.Wait(sctx)
	return 0
}
