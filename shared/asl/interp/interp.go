// Package interp executes Amazon States Language (JSONPath) definitions in
// process: the same JSON the compiler deploys to AWS Step Functions.
//
// Tasks are dispatched to an Invoker. Waits and retry delays follow
// Options.Wait and an injectable Clock. Executions are deterministic for a
// given definition, input, invoker behaviour and Options.Seed (apart from
// the order in which concurrent branches report events).
//
// A distributed Map reads its items with an ItemReader (a JSON array in S3,
// through Options.S3) and may write its results with a ResultWriter; its
// child executions run here as iterations of this execution. Not supported
// (rejected by Compile): JSONata, Assign, ItemBatcher, tolerated failures,
// other item sources (CSV, S3 listings, manifests).
package interp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/failure"
)

// Invoker runs Task states. resource is the state's Resource (a Lambda
// ARN for this project) and input the effective input as JSON.
type Invoker interface {
	Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error)
}

// InvokerFunc adapts a function to Invoker.
type InvokerFunc func(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error)

// Invoke calls f.
func (f InvokerFunc) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	return f(ctx, resource, input)
}

// Athena runs the queries of Task states whose Resource is Step Functions'
// Athena integration (asl.AthenaQuerySync): input is the state's effective
// Parameters (QueryString, WorkGroup, ...), the output what Step Functions
// returns ({"QueryExecution": ...}). A failed query is an error named
// States.TaskFailed whose cause carries Athena's reason.
type Athena interface {
	QuerySync(ctx context.Context, input json.RawMessage) (json.RawMessage, error)
}

// S3 is the object store a distributed Map reads its items from
// (ItemReader) and writes its results to (ResultWriter).
type S3 interface {
	GetObject(ctx context.Context, bucket, key string) ([]byte, error)
	PutObject(ctx context.Context, bucket, key string, body []byte) error
}

// Options configure one execution. The zero value is valid.
type Options struct {
	Invoker Invoker
	// Athena runs athena:startQueryExecution.sync Tasks (nil: they fail).
	Athena Athena
	// S3 serves distributed Maps' ItemReader and ResultWriter (nil: they fail).
	S3       S3
	Listener Listener
	Wait     WaitMode // Wait states and retry delays
	Clock    Clock    // nil: real time
	// Seed makes States.UUID, States.MathRandom without a seed, retry
	// jitter and the default execution name reproducible (0: random).
	Seed uint64
	// ExecutionName is $$.Execution.Name (default: a UUID).
	ExecutionName string
	// StateMachineARN is $$.StateMachine.Id and derives $$.Execution.Id.
	StateMachineARN string
}

// Listener receives execution events. Calls are serialized, in the order
// they happen; it must not block for long.
type Listener func(Event)

// EventType names an event.
type EventType string

// Event types.
const (
	ExecutionStarted   EventType = "ExecutionStarted"
	ExecutionSucceeded EventType = "ExecutionSucceeded"
	ExecutionFailed    EventType = "ExecutionFailed"
	ExecutionAborted   EventType = "ExecutionAborted"
	StateEntered       EventType = "StateEntered"
	StateExited        EventType = "StateExited"
	StateFailed        EventType = "StateFailed"
	StateRetried       EventType = "StateRetried"
	StateCaught        EventType = "StateCaught"
)

// Event is one step of an execution.
type Event struct {
	Type      EventType
	Time      time.Time // from Options.Clock
	State     string    // empty for Execution* events
	StateType string    // Task, Pass, Choice, ...
	Path      Path      // enclosing Parallel branches and Map iterations
	// Input is the state (or execution) input: StateEntered, ExecutionStarted.
	Input json.RawMessage
	// Output is the state (or execution) output: StateExited, ExecutionSucceeded.
	Output json.RawMessage
	// Error and Cause: StateFailed, StateRetried, StateCaught, ExecutionFailed.
	Error, Cause string
	Attempt      int           // StateRetried: retry number, from 1
	Delay        time.Duration // StateRetried: delay before Options.Wait applies
	Next         string        // StateExited, StateCaught: next state ("" at the end)
}

// PathElem is one level of nesting: a Parallel branch or a Map iteration.
type PathElem struct {
	State  string // the Parallel or Map state
	Branch int    // Parallel branch index, or -1
	Index  int    // Map item index, or -1
}

// Path locates a state inside nested Parallel branches and Map iterations,
// outermost first. The top level is the empty path.
type Path []PathElem

// String renders a path like "Fanout#3/Split[1]" (Map item 3, then
// Parallel branch 1).
func (p Path) String() string {
	var b strings.Builder
	for i, e := range p {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(e.State)
		if e.Index >= 0 {
			b.WriteString("#" + strconv.Itoa(e.Index))
		} else {
			b.WriteString("[" + strconv.Itoa(e.Branch) + "]")
		}
	}
	return b.String()
}

// Error names used by the interpreter, as in AWS Step Functions. A failing
// Parallel branch or Map iteration propagates its own error (name and
// cause), as aws-local-stepfunctions does; ErrBranchFailed is not raised.
const (
	ErrALL                    = "States.ALL"
	ErrRuntime                = "States.Runtime"
	ErrTimeout                = "States.Timeout"
	ErrTaskFailed             = "States.TaskFailed"
	ErrBranchFailed           = "States.BranchFailed"
	ErrNoChoiceMatched        = "States.NoChoiceMatched"
	ErrIntrinsicFailure       = "States.IntrinsicFailure"
	ErrResultPathMatchFailure = "States.ResultPathMatchFailure"
	ErrDataLimitExceeded      = "States.DataLimitExceeded"
	// A distributed Map's child failed (no failure is tolerated).
	ErrExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
	ErrItemReaderFailed                = "States.ItemReaderFailed"
	ErrResultWriterFailed              = "States.ResultWriterFailed"
)

// Failure is an ASL error. Run returns one when an execution fails;
// invokers may return one to choose the error name and cause.
type Failure struct {
	Name  string // e.g. States.Timeout or a Lambda error type
	Cause string

	located bool // Cause already names the failing state
}

func (f *Failure) Error() string {
	if f.Cause == "" {
		return f.Name
	}
	return f.Name + ": " + f.Cause
}

// ErrorName returns f.Name.
func (f *Failure) ErrorName() string { return f.Name }

// ErrorCause returns f.Cause.
func (f *Failure) ErrorCause() string { return f.Cause }

// ErrAborted is returned (wrapping the context's cause) when the context
// passed to Run is cancelled before the execution ends.
var ErrAborted = errors.New("interp: execution aborted")

// ErrorName is the ASL error name of an invoker error: its ErrorName()
// method if it has one (a Failure), else the name a Go Lambda reports for it
// (failure.Name: "*activity.Retryable" gives "Retryable", errors.New
// "errorString", an anonymous type ""). Wrapped errors are not unwrapped, as
// in aws-lambda-go.
func ErrorName(err error) string {
	if n, ok := err.(interface{ ErrorName() string }); ok {
		return n.ErrorName()
	}
	return failure.Name(err)
}

// ErrorCause is the ASL cause of an invoker error: its ErrorCause() method
// if it has one, else the payload a Go Lambda reports,
// {"errorMessage":"...","errorType":"..."}.
func ErrorCause(err error) string {
	if c, ok := err.(interface{ ErrorCause() string }); ok {
		return c.ErrorCause()
	}
	o := newObject(2)
	o.put("errorMessage", err.Error())
	o.put("errorType", ErrorName(err))
	return string(encodeJSON(o))
}

// WaitMode controls how long Wait states and retry delays really wait.
type WaitMode struct {
	skip  bool
	scale float64
}

var (
	// WaitReal waits the full duration (the default).
	WaitReal = WaitMode{}
	// WaitSkip does not wait at all.
	WaitSkip = WaitMode{skip: true}
)

// WaitScale divides every duration by n (n > 0).
func WaitScale(n float64) WaitMode {
	if n <= 0 || n == 1 {
		return WaitReal
	}
	return WaitMode{scale: n}
}

// ParseWaitMode parses "real", "skip" or "scale=N".
func ParseWaitMode(s string) (WaitMode, error) {
	switch {
	case s == "" || s == "real":
		return WaitReal, nil
	case s == "skip":
		return WaitSkip, nil
	case strings.HasPrefix(s, "scale="):
		n, err := strconv.ParseFloat(strings.TrimPrefix(s, "scale="), 64)
		if err != nil || n <= 0 {
			return WaitMode{}, fmt.Errorf("interp: invalid wait scale %q", s)
		}
		return WaitScale(n), nil
	}
	return WaitMode{}, fmt.Errorf("interp: invalid wait mode %q (want real, skip or scale=N)", s)
}

func (w WaitMode) String() string {
	switch {
	case w.skip:
		return "skip"
	case w.scale > 0:
		return "scale=" + strconv.FormatFloat(w.scale, 'g', -1, 64)
	}
	return "real"
}

// Apply returns the duration actually waited for d.
func (w WaitMode) Apply(d time.Duration) time.Duration {
	switch {
	case w.skip || d <= 0:
		return 0
	case w.scale > 0:
		return time.Duration(float64(d) / w.scale)
	}
	return d
}

// Clock provides time to an execution.
type Clock interface {
	Now() time.Time
	// Sleep waits for d, returning early with an error when ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Run compiles definition and executes it with input (empty means {}).
// It returns the execution output, a *Failure when the execution fails,
// an error wrapping ErrAborted when ctx ends first, or a
// *DefinitionError.
func Run(ctx context.Context, definition []byte, input json.RawMessage, opts Options) (json.RawMessage, error) {
	m, err := Compile(definition)
	if err != nil {
		return nil, err
	}
	return m.Run(ctx, input, opts)
}
