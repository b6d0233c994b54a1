package lambdalocal

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
)

// SFNDir is infra/sfn-local under root: the aws-local-stepfunctions runner.
func SFNDir(root string) string { return filepath.Join(root, "infra", "sfn-local") }

// SFNAvailable reports why aws-local-stepfunctions cannot run ("" when it can).
func SFNAvailable(root string) string {
	if _, err := os.Stat(filepath.Join(SFNDir(root), "node_modules", "aws-local-stepfunctions", "package.json")); err != nil {
		return "infra/sfn-local/node_modules is missing (run infra/setup.sh)"
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not on PATH"
	}
	return ""
}

// Execution is one state machine execution to run.
type Execution struct {
	Definition []byte
	Input      json.RawMessage // empty means {}
}

// Event is one entry of aws-local-stepfunctions' event log.
type Event struct {
	Type    string          `json:"type"` // StateEntered, StateExited, StateRetried, StateCaught, ...
	State   string          `json:"state"`
	Index   *int            `json:"index"` // Map iteration
	Attempt int             `json:"attempt"`
	Error   string          `json:"error"`
	Output  json.RawMessage `json:"output"`
}

// Outcome is what an execution did.
type Outcome struct {
	Output       json.RawMessage // nil when it failed
	Error, Cause string
	Events       []Event
}

// Retries returns the retried states, in order.
func (o Outcome) Retries() []Event {
	var out []Event
	for _, e := range o.Events {
		if e.Type == "StateRetried" {
			out = append(out, e)
		}
	}
	return out
}

// SFNOptions tune RunSFN.
type SFNOptions struct {
	WaitMs, RetryMs int // every Wait state and retry interval lasts this long
	Timeout         time.Duration
}

// RunSFN executes each execution, one after another, with
// aws-local-stepfunctions in one Node process; Task states call Lambda at
// endpoint (the router) through the AWS SDK, as Step Functions would.
func RunSFN(ctx context.Context, root, endpoint string, execs []Execution, o SFNOptions) ([]Outcome, error) {
	if why := SFNAvailable(root); why != "" {
		return nil, errors.New(why)
	}
	dir := SFNDir(root)
	var stdin bytes.Buffer
	for i, e := range execs {
		in := e.Input
		if len(bytes.TrimSpace(in)) == 0 {
			in = json.RawMessage("{}")
		}
		line, err := json.Marshal(map[string]any{"id": i, "definition": json.RawMessage(e.Definition), "input": in,
			"endpoint": endpoint, "waitMs": o.WaitMs, "retryMs": o.RetryMs})
		if err != nil {
			return nil, fmt.Errorf("execution %d: %w", i, err)
		}
		stdin.Write(line)
		stdin.WriteByte('\n')
	}
	if o.Timeout == 0 {
		o.Timeout = 3 * time.Minute
	}
	stdout, err := sfnlocal.Node(ctx, dir, stdin.Bytes(), o.Timeout)
	if err != nil {
		return nil, err
	}
	out := make([]Outcome, len(execs))
	done := make([]bool, len(execs))
	sc := bufio.NewScanner(bytes.NewReader(stdout))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var l struct {
			Job *int `json:"job"`
			Event
			Kind  string          `json:"kind"`
			OK    bool            `json:"ok"`
			Out   json.RawMessage `json:"output"`
			Cause string          `json:"cause"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return nil, fmt.Errorf("bad runner line %q: %v", sc.Text(), err)
		}
		if l.Job == nil || *l.Job < 0 || *l.Job >= len(out) {
			return nil, fmt.Errorf("runner line without a job: %s", sc.Text())
		}
		o := &out[*l.Job]
		switch l.Kind {
		case "event":
			ev := l.Event
			ev.Output = l.Out
			o.Events = append(o.Events, ev)
		case "result":
			done[*l.Job] = true
			if l.OK {
				o.Output = l.Out
			} else if l.Error == "RunnerError" {
				return nil, fmt.Errorf("execution %d: %s", *l.Job, l.Cause)
			} else {
				o.Error, o.Cause = l.Error, l.Cause
			}
		}
	}
	for i, d := range done {
		if !d {
			return nil, fmt.Errorf("no result for execution %d:\n%s", i, stdout)
		}
	}
	return out, sc.Err()
}
