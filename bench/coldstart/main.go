// Command coldstart measures the cold start of every Lambda function under
// the AWS Lambda Runtime Interface Emulator, and the cost of opening DuckDB.
//
//	go run ./bench/coldstart [--functions BuildAudience,Email] [--repeat 3] [--strict]
//
// It builds each function's bootstrap as the deployment does (provided.al2023,
// static cgo for DuckDB; infra/lambdalocal), starts it under a fresh emulator
// on free ports of 127.0.0.1 and invokes it once with its events/ fixture.
// The emulator's own REPORT "Init Duration" times only the dispatch of its
// init (the runtime starts asynchronously), so the bootstrap runs behind
// initproxy (a Runtime API proxy beside it), which times:
//
//   - init: from the bootstrap's process start to its first request for an
//     invocation (Go runtime and package init, main: configuration, SDK
//     clients, handler set-up), and the CPU time it took (on a busy machine
//     the wall time also holds the waits for a CPU);
//   - handler: the first invocation, from its delivery to the answer, and
//     its CPU time;
//   - rss: the bootstrap's peak resident set after the first invocation.
//
// The AWS endpoints are stubs on 127.0.0.1 answering every request with a
// "not found" error (S3: NoSuchKey, JSON APIs: ResourceNotFoundException),
// so a handler runs up to its first read of the run store (the plan, the
// run record) and fails there, quickly and without retries: the first
// invocation's figure is the handler's fixed cost, not its data work. The
// fastest of --repeat fresh emulators counts, per figure.
//
// "duckdb" rows open dataset.New's DuckDB engine in a fresh process (the
// first open pays DuckDB's static initialization) and again in the same one.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

const module = "github.com/stepwise-run/stepwise"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "duckdb-open" {
		if err := duckdbOpen(); err != nil {
			fmt.Fprintln(os.Stderr, "duckdb-open:", err)
			os.Exit(1)
		}
		return
	}
	only := flag.String("functions", "", "function names, comma-separated (default: every function)")
	repeat := flag.Int("repeat", 3, "fresh emulators per function; the fastest counts")
	strict := flag.Bool("strict", false, "run as provided.al2023 does: no time zone database on disk, a /tmp of its own (needs root and unshare)")
	flag.Parse()
	if err := run(*only, max(*repeat, 1), *strict); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// figures are one function's cold start, each the fastest of its rounds.
type figures struct {
	Init, InitCPU, Handler, HandlerCPU time.Duration
	First                              time.Duration // the invoke call's wall time (process start, init, handler)
	RSS                                int64
	Outcome                            string
}

func run(only string, repeat int, strict bool) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	rie, err := lambdalocal.FindRIE(root)
	if err != nil {
		return err
	}
	fns := lambdafn.Functions(builtin.Registry())
	if only != "" {
		want := map[string]bool{}
		for _, n := range strings.Split(only, ",") {
			want[strings.TrimSpace(n)] = true
		}
		fns = slices.DeleteFunc(fns, func(f lambdafn.Fn) bool { return !want[f.Name] })
		if len(fns) != len(want) {
			return fmt.Errorf("--functions %s: unknown function among them", only)
		}
	}
	memory, err := templateMemory(filepath.Join(root, "template.yaml"))
	if err != nil {
		return err
	}
	ctx := context.Background()
	cache := lambdalocal.DefaultCacheDir()
	work := filepath.Join(filepath.Dir(cache), "coldstart")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	proxy := filepath.Join(work, "initproxy")
	build := exec.Command("go", "build", "-trimpath", "-o", proxy, "./bench/coldstart/initproxy")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build initproxy: %v\n%s", err, out)
	}
	var pkgs []string
	for _, f := range fns {
		pkgs = append(pkgs, "./functions/"+f.Dir)
	}
	fmt.Fprintf(os.Stderr, "building %d bootstraps (cached in %s) …\n", len(pkgs), cache)
	built, err := (&lambdalocal.Builder{Root: root, CacheDir: cache, Log: os.Stderr}).Build(ctx, pkgs...)
	if err != nil {
		return err
	}

	s3 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>coldstart stub</Message></Error>`)
	}))
	defer s3.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"coldstart stub"}`)
	}))
	defer api.Close()
	env := map[string]string{
		"TABLE_NAME": "stepwise-coldstart", "BUCKET": "stepwise-coldstart", "S3_PATH_STYLE": "true",
		"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL": api.URL, "AWS_ENDPOINT_URL_S3": s3.URL,
		// The stand-in for UNSUBSCRIBE_SECRET_ARN: on AWS, channel functions
		// and the API read the secret once at init (one Secrets Manager call).
		"UNSUBSCRIBE_SECRET": "coldstart-unsubscribe-secret-0123456789", "PUBLIC_URL": "http://127.0.0.1:9/",
		"SEND_RATE": "0",
	}

	fmt.Printf("%-18s %-9s %4s %7s | %8s %8s | %8s %8s | %8s %6s | %s\n", "function", "family", "cgo", "size",
		"init", "init cpu", "handler", "cpu", "1st call", "rss", "first invocation")
	for _, f := range fns {
		b, ok := built[module+"/functions/"+f.Dir]
		if !ok {
			return fmt.Errorf("%s: not built", f.Name)
		}
		dir := filepath.Join(work, f.Name)
		if err := layout(dir, proxy, b.Path); err != nil {
			return err
		}
		payload, err := os.ReadFile(filepath.Join(root, "events", f.Dir+".json"))
		if err != nil {
			return err
		}
		fig, err := measureFunction(ctx, rie, dir, f.Name, memory(f.Name), env, payload, repeat, strict)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		fmt.Printf("%-18s %-9s %4v %6.1fM | %8s %8s | %8s %8s | %8s %5.0fM | %s\n", f.Name, f.Family, b.CGO, float64(b.Size)/1e6,
			ms(fig.Init), ms(fig.InitCPU), ms(fig.Handler), ms(fig.HandlerCPU), ms(fig.First), float64(fig.RSS)/(1<<20), fig.Outcome)
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var first, again []time.Duration
	for i := 0; i < repeat; i++ {
		out, err := exec.Command(self, "duckdb-open").Output()
		if err != nil {
			return fmt.Errorf("duckdb-open: %v", err)
		}
		var r struct{ First, Again int64 }
		if err := json.Unmarshal(out, &r); err != nil {
			return fmt.Errorf("duckdb-open: %v: %s", err, out)
		}
		first, again = append(first, time.Duration(r.First)), append(again, time.Duration(r.Again))
	}
	fmt.Printf("duckdb open + first statement + close: first in a process %s, again %s (dataset.New, threads %d)\n",
		ms(slices.Min(first)), ms(slices.Min(again)), dataset.DefaultThreads())
	return nil
}

// layout makes dir the function's code folder: initproxy as its bootstrap,
// the real bootstrap beside it as "function" (a hard link when it can).
func layout(dir, proxy, bootstrap string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, c := range [][2]string{{proxy, "bootstrap"}, {bootstrap, "function"}} {
		dst := filepath.Join(dir, c[1])
		os.Remove(dst)
		if os.Link(c[0], dst) == nil {
			continue
		}
		data, err := os.ReadFile(c[0])
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// measureFunction starts the function under fresh emulators, invokes each
// once and keeps the fastest figures.
func measureFunction(ctx context.Context, rie, dir, name string, memoryMB int, env map[string]string, payload []byte, repeat int, strict bool) (figures, error) {
	var fig figures
	for i := 0; i < repeat; i++ {
		tap := &tap{}
		r, err := lambdalocal.StartRIE(ctx, lambdalocal.RIEOptions{Bin: rie, Bootstrap: filepath.Join(dir, "bootstrap"), Name: name,
			MemoryMB: memoryMB, Timeout: 60 * time.Second, Env: env, Output: tap, Strict: strict})
		if err != nil {
			return fig, err
		}
		start := time.Now()
		res, err := r.Invoke(ctx, payload)
		took := time.Since(start)
		line := tap.wait(5 * time.Second)
		r.Close()
		if err != nil {
			return fig, err
		}
		m := proxyLine.FindStringSubmatch(line)
		if m == nil {
			return fig, fmt.Errorf("no initproxy report; the function's log:\n%s", tap.String())
		}
		var v [5]int64
		for j := range v {
			v[j], _ = strconv.ParseInt(m[j+1], 10, 64)
		}
		rss := v[4]
		outcome := "ok"
		if res.FunctionError != "" {
			outcome = lambdalocal.ErrorTypeOf(res.Payload)
			if strings.HasPrefix(outcome, "Runtime.") || strings.HasPrefix(outcome, "Sandbox.") {
				return fig, fmt.Errorf("crashed: %s\n%s", res.Payload, tap.String())
			}
		}
		for j, d := range []*time.Duration{&fig.Init, &fig.InitCPU, &fig.Handler, &fig.HandlerCPU, &fig.First} {
			x := took
			if j < 4 {
				x = time.Duration(v[j])
			}
			if i == 0 || x < *d {
				*d = x
			}
		}
		if i == 0 || rss < fig.RSS {
			fig.RSS = rss
		}
		fig.Outcome = outcome
	}
	return fig, nil
}

var proxyLine = regexp.MustCompile(`initproxy: init=(\d+) initcpu=(\d+) handler=(\d+) handlercpu=(\d+) rss=(\d+)`)

// tap keeps the emulator's output and signals initproxy's line.
type tap struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	line string
	got  chan struct{}
	once sync.Once
}

func (t *tap) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if t.line == "" {
		// Complete lines only: a write may end mid-line.
		done := t.buf.Bytes()[:bytes.LastIndexByte(t.buf.Bytes(), '\n')+1]
		for _, l := range strings.Split(string(done), "\n") {
			if strings.Contains(l, "initproxy: init=") {
				t.line = l
				t.signal()
				break
			}
		}
	}
	return len(p), nil
}

func (t *tap) signal() {
	t.once.Do(func() {
		if t.got == nil {
			t.got = make(chan struct{})
		}
		close(t.got)
	})
}

func (t *tap) wait(d time.Duration) string {
	t.mu.Lock()
	if t.got == nil {
		t.got = make(chan struct{})
	}
	got := t.got
	t.mu.Unlock()
	select {
	case <-got:
	case <-time.After(d):
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.line
}

func (t *tap) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

// templateMemory reads each function's MemorySize from template.yaml
// (Globals' when a function sets none).
func templateMemory(path string) (func(name string) int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	get := func(n *yaml.Node, keys ...string) *yaml.Node {
		for _, k := range keys {
			if n == nil {
				return nil
			}
			if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
				n = n.Content[0]
			}
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == k {
					next = n.Content[i+1]
				}
			}
			n = next
		}
		return n
	}
	def := 128
	if n := get(&doc, "Globals", "Function", "MemorySize"); n != nil {
		def, _ = strconv.Atoi(n.Value)
	}
	return func(name string) int {
		if n := get(&doc, "Resources", name+"Function", "Properties", "MemorySize"); n != nil {
			if v, err := strconv.Atoi(n.Value); err == nil {
				return v
			}
		}
		return def
	}, nil
}

// duckdbOpen times dataset.New's engine in this fresh process: open, a
// first statement (the connection's set-up), close; then again.
func duckdbOpen() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "coldstart-duckdb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	once := func() (time.Duration, error) {
		start := time.Now()
		e, err := dataset.New(dataset.Options{WorkDir: dir})
		if err != nil {
			return 0, err
		}
		if err := e.Exec(ctx, "SELECT 1"); err != nil {
			return 0, err
		}
		if err := e.Close(); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	first, err := once()
	if err != nil {
		return err
	}
	again, err := once()
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]int64{"First": first.Nanoseconds(), "Again": again.Nanoseconds()})
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/1e6) }
