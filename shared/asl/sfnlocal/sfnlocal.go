// Package sfnlocal is test support: it runs an ASL definition with the
// independent Node interpreter aws-local-stepfunctions (infra/sfn-local)
// and with the in-process interpreter, and compares the two.
//
// Lambda Tasks reach a Go httptest server implementing the Lambda Invoke
// API (via AWS_ENDPOINT_URL_LAMBDA), which dispatches to an
// interp.Invoker, so both interpreters call the same Go code.
package sfnlocal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
)

// Result is what one execution did.
type Result struct {
	Output  json.RawMessage // nil when the execution failed
	Entered []string        // names of the states entered, in order
	Steps   []Step          // the same, with the lane of each
	// Error and Cause describe a failed execution.
	Error, Cause string
}

// Step is one state entry and its lane: "" at the top level, else
// enclosing Parallel branches and Map iterations like "Par[1]/Fan#3".
// Map iterations nested in another Map iteration have index "?" because
// aws-local-stepfunctions only reports the outermost index.
type Step struct {
	Lane  string
	State string
}

func (s Step) String() string {
	if s.Lane == "" {
		return s.State
	}
	return s.Lane + "/" + s.State
}

// ParseStep parses Step.String's form ("Par[1]/B1", "Fan#0/Item" or "Top").
func ParseStep(s string) Step {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return Step{State: s}
	}
	return Step{Lane: s[:i], State: s[i+1:]}
}

// Options tune a Node run.
type Options struct {
	WaitMs   int           // every Wait state lasts this long (default 0)
	RetryMs  int           // every retry interval (default 0)
	Validate bool          // run asl-validator first (slow: ~0.3 s a definition)
	Timeout  time.Duration // whole run (default 2 minutes)
}

// Dir returns infra/sfn-local of this repository, found from the working
// directory upwards.
func Dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "infra", "sfn-local"), nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("sfnlocal: go.mod not found above " + wd)
		}
	}
}

// Available reports why the Node runner cannot be used ("" when it can).
func Available() string {
	dir, err := Dir()
	if err != nil {
		return err.Error()
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "aws-local-stepfunctions", "package.json")); err != nil {
		return "infra/sfn-local/node_modules is missing (run infra/setup-node.sh)"
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not on PATH"
	}
	return ""
}

// Require skips t when the Node runner is unavailable, or fails it when
// the CI environment variable is set (CI installs it).
func Require(t testing.TB) {
	t.Helper()
	if why := Available(); why != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("sfnlocal: %s", why)
		}
		t.Skipf("sfnlocal: %s", why)
	}
}

// Run executes definition with aws-local-stepfunctions; Task states call
// inv. It returns a *interp.Failure when the execution fails; harness
// problems fail t.
func Run(t testing.TB, definition []byte, input json.RawMessage, inv interp.Invoker) (Result, error) {
	t.Helper()
	r := RunJobs(t, []Job{{Definition: definition, Input: input, Invoker: inv}}, Options{})
	return r[0].Result, r[0].Err
}

// Job is one execution for RunJobs.
type Job struct {
	Definition []byte
	Input      json.RawMessage // empty means {}
	Invoker    interp.Invoker
}

// JobResult is the outcome of a Job; Err is a *interp.Failure when the
// execution failed.
type JobResult struct {
	Result
	Err error
}

// RunJobs executes jobs one after another in a single Node process (Node
// start-up dominates a single run), each with its own Lambda endpoint.
func RunJobs(t testing.TB, jobs []Job, opts Options) []JobResult {
	t.Helper()
	Require(t)
	dir, _ := Dir()
	type jobLine struct {
		ID         int             `json:"id"`
		Definition json.RawMessage `json:"definition"`
		Input      json.RawMessage `json:"input"`
		Endpoint   string          `json:"endpoint"`
		WaitMs     int             `json:"waitMs"`
		RetryMs    int             `json:"retryMs"`
		Validate   bool            `json:"validate"`
	}
	scopes := make([]map[string][]container, len(jobs))
	var stdin bytes.Buffer
	for i, j := range jobs {
		sc, err := scopesOf(j.Definition)
		if err != nil {
			t.Fatalf("sfnlocal: job %d: %v", i, err)
		}
		scopes[i] = sc
		srv := httptest.NewServer(LambdaHandler(j.Invoker))
		defer srv.Close()
		in := j.Input
		if len(bytes.TrimSpace(in)) == 0 {
			in = json.RawMessage("{}")
		}
		b, err := json.Marshal(jobLine{i, j.Definition, in, srv.URL, opts.WaitMs, opts.RetryMs, opts.Validate})
		if err != nil {
			t.Fatalf("sfnlocal: job %d: %v", i, err)
		}
		stdin.Write(b)
		stdin.WriteByte('\n')
	}
	if opts.Timeout == 0 {
		opts.Timeout = 2 * time.Minute
	}
	stdout, err := Node(context.Background(), dir, stdin.Bytes(), opts.Timeout)
	if err != nil {
		t.Fatalf("sfnlocal: %v", err)
	}
	return parseRunnerOutput(t, stdout, scopes)
}

// Node runs the aws-local-stepfunctions runner installed in dir (run.mjs
// --jobs) with jobs on stdin, one JSON line each, in an environment without
// the caller's AWS settings, and returns what it prints.
func Node(ctx context.Context, dir string, jobs []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "--require", filepath.Join(dir, "withresolvers.cjs"), filepath.Join(dir, "run.mjs"), "--jobs")
	cmd.Dir = dir
	cmd.Env = nodeEnv()
	cmd.Stdin = bytes.NewReader(jobs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("aws-local-stepfunctions: %v\n%s", err, stderr.String())
	}
	return out, nil
}

// nodeEnv is the environment without AWS settings, plus dummy
// credentials (each job names its Lambda endpoint).
func nodeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "NODE_OPTIONS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

type runnerLine struct {
	Job    *int            `json:"job"`
	Kind   string          `json:"kind"`
	Type   string          `json:"type"`
	State  string          `json:"state"`
	Index  *int            `json:"index"`
	OK     bool            `json:"ok"`
	Output json.RawMessage `json:"output"`
	Error  string          `json:"error"`
	Cause  string          `json:"cause"`
}

func parseRunnerOutput(t testing.TB, stdout []byte, scopes []map[string][]container) []JobResult {
	t.Helper()
	res := make([]JobResult, len(scopes))
	done := make([]bool, len(scopes))
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l runnerLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("sfnlocal: bad runner line %q: %v", sc.Text(), err)
		}
		if l.Job == nil || *l.Job < 0 || *l.Job >= len(res) {
			t.Fatalf("sfnlocal: runner line without a valid job: %s", sc.Text())
		}
		r := &res[*l.Job]
		switch {
		case l.Kind == "event" && l.Type == "StateEntered":
			idx := -1
			if l.Index != nil {
				idx = *l.Index
			}
			r.Steps = append(r.Steps, Step{Lane: nodeLane(scopes[*l.Job][l.State], idx), State: l.State})
			r.Entered = append(r.Entered, l.State)
		case l.Kind == "result":
			done[*l.Job] = true
			switch {
			case l.OK:
				r.Output = l.Output
			case l.Error == "RunnerError":
				t.Fatalf("sfnlocal: job %d: %s", *l.Job, l.Cause)
			default:
				r.Error, r.Cause = l.Error, l.Cause
				r.Err = &interp.Failure{Name: l.Error, Cause: l.Cause}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("sfnlocal: reading runner output: %v", err)
	}
	for i, d := range done {
		if !d {
			t.Fatalf("sfnlocal: runner printed no result for job %d:\n%s", i, stdout)
		}
	}
	return res
}

// LambdaHandler serves the Lambda Invoke API
// (POST /2015-03-31/functions/{FunctionName}/invocations) with inv. An
// error is answered like a failed Go Lambda: status 200, header
// X-Amz-Function-Error: Unhandled, body {"errorType","errorMessage"}.
func LambdaHandler(inv interp.Invoker) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const prefix, suffix = "/2015-03-31/functions/", "/invocations"
		p := r.URL.EscapedPath()
		if r.Method != http.MethodPost || !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, suffix) {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		name, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, prefix), suffix))
		if err != nil {
			http.Error(w, `{"message":"bad function name"}`, http.StatusBadRequest)
			return
		}
		body := new(bytes.Buffer)
		if _, err := body.ReadFrom(r.Body); err != nil {
			http.Error(w, `{"message":"bad body"}`, http.StatusBadRequest)
			return
		}
		out, err := inv.Invoke(r.Context(), name, body.Bytes())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Amz-Executed-Version", "$LATEST")
		if err != nil {
			msg := err.Error()
			if c, ok := err.(interface{ ErrorCause() string }); ok {
				msg = c.ErrorCause()
			}
			b, _ := json.Marshal(map[string]string{"errorType": interp.ErrorName(err), "errorMessage": msg})
			w.Header().Set("X-Amz-Function-Error", "Unhandled")
			w.Write(b)
			return
		}
		if len(bytes.TrimSpace(out)) == 0 {
			out = json.RawMessage("null")
		}
		w.Write(out)
	})
}

// RunGo executes definition with the in-process interpreter (waits
// skipped, seed 1), recording steps like Run.
func RunGo(t testing.TB, definition []byte, input json.RawMessage, inv interp.Invoker) (Result, error) {
	t.Helper()
	var (
		mu  sync.Mutex
		res Result
	)
	out, err := interp.Run(context.Background(), definition, input, interp.Options{
		Invoker: inv,
		Wait:    interp.WaitSkip,
		Seed:    1,
		Listener: func(e interp.Event) {
			if e.Type != interp.StateEntered {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			res.Steps = append(res.Steps, Step{Lane: goLane(e.Path), State: e.State})
			res.Entered = append(res.Entered, e.State)
		},
	})
	var f *interp.Failure
	switch {
	case err == nil:
		res.Output = out
		return res, nil
	case errors.As(err, &f):
		res.Error, res.Cause = f.Name, f.Cause
		return res, f
	}
	t.Fatalf("sfnlocal: interp.Run: %v", err)
	return res, err
}

// container is a Parallel branch or Map processor enclosing a state.
type container struct {
	state  string
	branch int // -1 for Map
}

// scopesOf maps each state name to its enclosing containers, outermost
// first (ASL state names are unique in the whole machine).
func scopesOf(definition []byte) (map[string][]container, error) {
	type sm struct {
		States map[string]json.RawMessage
	}
	type st struct {
		Type          string
		Branches      []json.RawMessage
		ItemProcessor json.RawMessage
		Iterator      json.RawMessage
	}
	out := map[string][]container{}
	var walk func(raw json.RawMessage, outer []container) error
	walk = func(raw json.RawMessage, outer []container) error {
		var m sm
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("parsing definition: %v", err)
		}
		for name, sraw := range m.States {
			out[name] = outer
			var s st
			if err := json.Unmarshal(sraw, &s); err != nil {
				return fmt.Errorf("parsing state %q: %v", name, err)
			}
			inner := func(c container) []container {
				return append(append([]container(nil), outer...), c)
			}
			for i, b := range s.Branches {
				if err := walk(b, inner(container{name, i})); err != nil {
					return err
				}
			}
			proc := s.ItemProcessor
			if proc == nil {
				proc = s.Iterator
			}
			if proc != nil {
				if err := walk(proc, inner(container{name, -1})); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return out, walk(definition, nil)
}

func laneString(parts []string) string { return strings.Join(parts, "/") }

// nodeLane renders the lane of a state from its containers and the Map
// index aws-local-stepfunctions reported (that of the outermost Map).
func nodeLane(cs []container, index int) string {
	var parts []string
	seenMap := false
	for _, c := range cs {
		switch {
		case c.branch >= 0:
			parts = append(parts, fmt.Sprintf("%s[%d]", c.state, c.branch))
		case !seenMap && index >= 0:
			parts = append(parts, fmt.Sprintf("%s#%d", c.state, index))
			seenMap = true
		default:
			parts = append(parts, c.state+"#?")
			seenMap = true
		}
	}
	return laneString(parts)
}

// goLane renders an interp.Path the same way as nodeLane.
func goLane(p interp.Path) string {
	var parts []string
	seenMap := false
	for _, e := range p {
		switch {
		case e.Index < 0:
			parts = append(parts, fmt.Sprintf("%s[%d]", e.State, e.Branch))
		case !seenMap:
			parts = append(parts, fmt.Sprintf("%s#%d", e.State, e.Index))
			seenMap = true
		default:
			parts = append(parts, e.State+"#?")
		}
	}
	return laneString(parts)
}
