// Command initproxy runs a Lambda bootstrap behind a proxy of the Runtime
// API, so that bench/coldstart can time a cold start from outside the
// function: from the bootstrap's process start to its first request for an
// invocation (its init), and from that invocation's delivery to its answer
// (the first invocation's handler). The emulator starts initproxy as the
// function's bootstrap; the real one is "function" beside it. It prints one
// line to stderr (the function's log) after the first answer:
//
//	initproxy: init=<ns> initcpu=<ns> handler=<ns> handlercpu=<ns> rss=<bytes>
//
// The cpu figures are the bootstrap's threads' time on a CPU (schedstat)
// over the same spans: on a busy machine the wall times also hold the
// time spent waiting for one. rss is the bootstrap's peak resident set
// (VmHWM) at that moment.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	api := os.Getenv("AWS_LAMBDA_RUNTIME_API")
	if api == "" {
		fail(fmt.Errorf("AWS_LAMBDA_RUNTIME_API is not set"))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	child := exec.Command(filepath.Join(filepath.Dir(self), "function"), os.Args[1:]...)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") {
			child.Env = append(child.Env, kv)
		}
	}
	child.Env = append(child.Env, "AWS_LAMBDA_RUNTIME_API="+l.Addr().String())

	p := &proxy{rp: httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: api}), child: child}
	go http.Serve(l, p)
	p.start = time.Now()
	if err := child.Start(); err != nil {
		fail(err)
	}
	err = child.Wait()
	if x, ok := err.(*exec.ExitError); ok {
		os.Exit(x.ExitCode())
	}
	if err != nil {
		fail(err)
	}
}

type proxy struct {
	rp    *httputil.ReverseProxy
	child *exec.Cmd
	start time.Time

	mu        sync.Mutex
	init      time.Duration // start → first GET next
	initCPU   time.Duration
	delivered time.Time // the first invocation reached the bootstrap
	cpuAt     time.Duration
	reported  bool
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if r.Method == http.MethodGet && strings.HasSuffix(path, "/runtime/invocation/next") {
		p.mu.Lock()
		first := p.init == 0
		if first {
			p.init = time.Since(p.start)
			p.initCPU = cpuTime(p.child.Process.Pid)
		}
		p.mu.Unlock()
		p.rp.ServeHTTP(w, r)
		if first {
			p.mu.Lock()
			p.delivered = time.Now()
			p.cpuAt = cpuTime(p.child.Process.Pid)
			p.mu.Unlock()
		}
		return
	}
	if r.Method == http.MethodPost && strings.Contains(path, "/runtime/invocation/") &&
		(strings.HasSuffix(path, "/response") || strings.HasSuffix(path, "/error")) {
		p.mu.Lock()
		if !p.reported {
			p.reported = true
			pid := p.child.Process.Pid
			fmt.Fprintf(os.Stderr, "initproxy: init=%d initcpu=%d handler=%d handlercpu=%d rss=%d\n", p.init.Nanoseconds(), p.initCPU.Nanoseconds(),
				time.Since(p.delivered).Nanoseconds(), (cpuTime(pid) - p.cpuAt).Nanoseconds(), peakRSS(pid))
		}
		p.mu.Unlock()
	}
	p.rp.ServeHTTP(w, r)
}

// cpuTime is the time a process's live threads have run on a CPU
// (/proc/PID/task/*/schedstat, nanoseconds).
func cpuTime(pid int) time.Duration {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	ents, _ := os.ReadDir(dir)
	var ns int64
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			ns += n
		}
	}
	return time.Duration(ns)
}

// peakRSS reads a process's VmHWM in bytes (0 when unknown).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "initproxy:", err)
	os.Exit(1)
}
