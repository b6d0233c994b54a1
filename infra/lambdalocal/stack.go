package lambdalocal

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Function is one function to run under RIE.
type Function struct {
	Name      string // e.g. StartRun: the router serves it under this name
	Bootstrap string
	MemoryMB  int
	Timeout   time.Duration
	TmpSize   int64             // bytes of its /tmp under Strict (EphemeralStorage Size)
	Env       map[string]string // on top of FunctionsOptions.Env
}

// FunctionsOptions start a set of functions behind one router.
type FunctionsOptions struct {
	RIE       string // aws-lambda-rie
	Functions []Function
	// Env is every function's environment: the emulators' endpoints
	// (AWS_ENDPOINT_URL_*), dummy credentials, TABLE_NAME, BUCKET...
	Env map[string]string
	// WorkDir gets one scratch folder per function (its WORK_DIR), unless
	// Strict: then each function has its own /tmp, as on Lambda.
	WorkDir string
	// Addr is the router's address (default a free port of 127.0.0.1).
	Addr   string
	Output io.Writer // emulator and function logs
	Strict bool      // see RIEOptions.Strict
}

// Functions is a running set of functions.
type Functions struct {
	Router *Router
	URL    string // the router: set AWS_ENDPOINT_URL_LAMBDA to it
	RIEs   map[string]*RIE
	srv    *http.Server
}

// StartFunctions starts one RIE per function (in parallel) and the router.
func StartFunctions(ctx context.Context, o FunctionsOptions) (*Functions, error) {
	f := &Functions{Router: NewRouter(), RIEs: map[string]*RIE{}}
	var mu sync.Mutex
	var g errgroup.Group
	for _, fn := range o.Functions {
		g.Go(func() error {
			env := map[string]string{}
			for k, v := range o.Env {
				env[k] = v
			}
			for k, v := range fn.Env {
				env[k] = v
			}
			if o.WorkDir != "" && !o.Strict {
				wd := filepath.Join(o.WorkDir, fn.Name)
				os.MkdirAll(wd, 0o755)
				env["WORK_DIR"] = wd
			}
			r, err := StartRIE(ctx, RIEOptions{Bin: o.RIE, Bootstrap: fn.Bootstrap, Name: fn.Name, MemoryMB: fn.MemoryMB,
				Timeout: fn.Timeout, Env: env, Output: o.Output, Strict: o.Strict, TmpSize: fn.TmpSize})
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			f.RIEs[fn.Name] = r
			f.Router.Add(fn.Name, r)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		f.Close()
		return nil, err
	}
	addr := o.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("router: %w", err)
	}
	f.URL = "http://" + l.Addr().String()
	f.srv = &http.Server{Handler: f.Router, ReadHeaderTimeout: 10 * time.Second}
	go f.srv.Serve(l)
	return f, nil
}

// Close stops the router and every emulator.
func (f *Functions) Close() {
	if f.srv != nil {
		f.srv.Close()
	}
	var wg sync.WaitGroup
	for _, r := range f.RIEs {
		wg.Add(1)
		go func(r *RIE) { defer wg.Done(); r.Close() }(r)
	}
	wg.Wait()
}
