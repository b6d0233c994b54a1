package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/freeport"
)

// RIEVersion is the aws-lambda-runtime-interface-emulator pseudo-version
// infra/setup-rie.sh installs.
const RIEVersion = "v0.0.0-20261030222936-bef5c4ba774d"

// FindRIE returns the aws-lambda-rie binary: $STEPWISE_RIE, then
// infra/.cache/bin under root (infra/setup-rie.sh), then PATH.
func FindRIE(root string) (string, error) {
	if p := os.Getenv("STEPWISE_RIE"); p != "" {
		return p, nil
	}
	p := filepath.Join(root, "infra", ".cache", "bin", "aws-lambda-rie")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p, nil
	}
	return "", errors.New("aws-lambda-rie not found; run infra/setup-rie.sh")
}

// RIEOptions start one function under the emulator.
type RIEOptions struct {
	Bin       string // aws-lambda-rie
	Bootstrap string // the function's bootstrap binary
	Name      string // AWS_LAMBDA_FUNCTION_NAME
	MemoryMB  int    // AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)
	Timeout   time.Duration
	// Env is the function's whole environment (RIE passes its own on);
	// PATH and the AWS_LAMBDA_* variables are added.
	Env    map[string]string
	Output io.Writer // the emulator's and the function's logs (default discarded)
	// Strict runs the function as Lambda's provided.al2023 would: with no
	// time zone database on disk (see SandboxAvailable) and a /tmp of
	// TmpSize of its own (see RIE.Tmp).
	Strict  bool
	TmpSize int64 // bytes: the template's EphemeralStorage Size (default DefaultTmpSize)
}

// RIE is one function running under aws-lambda-rie. RIE serves only
// /2015-03-31/functions/function/invocations and crashes on a concurrent
// invoke: Invoke serializes calls.
type RIE struct {
	Name    string
	URL     string // the emulator's base URL
	Started time.Time

	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
	client   *http.Client
	invokes  int
	firstDur time.Duration
	strict   bool
}

// StartRIE starts the emulator on two free ports of 127.0.0.1 and waits
// until it listens. The function itself starts on the first invoke.
func StartRIE(ctx context.Context, o RIEOptions) (*RIE, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		r, err := startRIE(ctx, o)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startRIE(ctx context.Context, o RIEOptions) (*RIE, error) {
	ports, err := freeport.Ports(2)
	if err != nil {
		return nil, err
	}
	emu := "127.0.0.1:" + strconv.Itoa(ports[0])
	mem := o.MemoryMB
	if mem == 0 {
		mem = 128
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 900 * time.Second
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"AWS_LAMBDA_FUNCTION_NAME=" + o.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(mem),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(int(timeout.Seconds())),
	}
	for k, v := range o.Env {
		env = append(env, k+"="+v)
	}
	argv := []string{o.Bin, "--log-level", "error",
		"--runtime-interface-emulator-address", emu,
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1]),
		o.Bootstrap}
	if o.Strict {
		if err := SandboxAvailable(); err != nil {
			return nil, fmt.Errorf("strict sandbox for %s: %w", o.Name, err)
		}
		tmp := o.TmpSize
		if tmp == 0 {
			tmp = DefaultTmpSize
		}
		argv = sandboxed(argv, tmp)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = filepath.Dir(o.Bootstrap)
	cmd.SysProcAttr = sysProcAttr()
	out := o.Output
	if out == nil {
		out = io.Discard
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start aws-lambda-rie for %s: %w", o.Name, err)
	}
	r := &RIE{Name: o.Name, URL: "http://" + emu, Started: time.Now(), cmd: cmd, exited: make(chan struct{}),
		client: &http.Client{Timeout: timeout + 30*time.Second}, strict: o.Strict}
	go func() { cmd.Wait(); close(r.exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", emu, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return r, nil
		}
		select {
		case <-r.exited:
			return nil, fmt.Errorf("aws-lambda-rie for %s exited at start (port taken?)", o.Name)
		case <-ctx.Done():
			r.Close()
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.Close()
			return nil, fmt.Errorf("aws-lambda-rie for %s did not listen on %s", o.Name, emu)
		}
	}
}

// Invoke runs one invocation (serialized). A function error comes back as
// a Response with FunctionError "Unhandled", as the Lambda API reports it.
func (r *RIE) Invoke(ctx context.Context, payload []byte) (Response, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	var body []byte
	var resp *http.Response
	for wait := gateRetry; ; wait *= 2 {
		var err error
		if resp, body, err = r.post(ctx, payload); err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", r.Name, err)
		}
		if resp.StatusCode == http.StatusOK {
			break
		}
		// After a timeout RIE resets the sandbox, and the old runtime's
		// end, when reported late, cancels the next invocation (its gates
		// canceled without an error: ErrGateCanceled). Lambda runs an
		// invocation after a timeout on a fresh sandbox; the emulator's
		// answer is an artefact of its reset, so the invocation is sent
		// again (functions are idempotent: Lambda delivers at least once).
		if !gateCanceled(resp.StatusCode, body) || wait > gateRetryMax {
			return Response{}, fmt.Errorf("invoke %s: emulator answered %s: %s", r.Name, resp.Status, strings.TrimSpace(string(body)))
		}
		select {
		case <-ctx.Done():
			return Response{}, ctx.Err()
		case <-time.After(wait):
		}
	}
	if m := timedOut.FindSubmatch(body); m != nil {
		// RIE ends the invocation at AWS_LAMBDA_FUNCTION_TIMEOUT with a text
		// body; the Lambda API reports it as a function error.
		body, _ = json.Marshal(map[string]string{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after " + string(m[1]) + " seconds"})
		resp.Header.Set("X-Amz-Function-Error", "Unhandled")
	}
	res := Response{Payload: body, FunctionError: resp.Header.Get("X-Amz-Function-Error")}
	if res.FunctionError == "" && IsErrorPayload(body) {
		res.FunctionError = "Unhandled"
	}
	r.invokes++
	if r.invokes == 1 {
		r.firstDur = time.Since(start)
	}
	return res, nil
}

// post sends one invocation to the emulator and reads its answer.
func (r *RIE) post(ctx context.Context, payload []byte) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
	if err != nil {
		return nil, nil, err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// gateCanceled reports RIE's answer to an invocation its reset canceled
// (Sandbox.Failure, ErrGateCanceled).
func gateCanceled(status int, body []byte) bool {
	return status == http.StatusBadGateway && bytes.Contains(body, []byte("Sandbox.Failure")) && bytes.Contains(body, []byte("Error: ErrGateCanceled"))
}

// The waits between retries of a canceled invocation: 50 ms, doubling, to
// 3.2 s (6.35 s in all).
var gateRetry, gateRetryMax = 50 * time.Millisecond, 3200 * time.Millisecond

// timedOut is RIE's answer to an invocation that ran past its timeout.
var timedOut = regexp.MustCompile(`^Task timed out after ([0-9.]+) seconds$`)

// FirstInvoke is how long the first invocation took: the function's cold
// start (process start, init) plus its handler; zero before it.
func (r *RIE) FirstInvoke() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.firstDur
}

// CPUTime is the CPU time the emulator and the function have used so far
// (Linux; 0 elsewhere). The router reads it around each invocation.
func (r *RIE) CPUTime() time.Duration {
	if r.cmd.Process == nil {
		return 0
	}
	return treeCPU(r.cmd.Process.Pid)
}

// Close ends the emulator and the function.
func (r *RIE) Close() error {
	if r.cmd.Process != nil {
		killGroup(r.cmd.Process.Pid)
	}
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
	}
	return nil
}
