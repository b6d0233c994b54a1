package interp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl"
)

const (
	defaultStateMachineARN = "arn:aws:states:us-east-1:123456789012:stateMachine:stepwise-local"
	// inline Map runs at most this many iterations at once, as on AWS.
	defaultMapConcurrency = 40
	timeFormat            = "2006-01-02T15:04:05.000Z"
)

// timeoutUnit is the length of a TimeoutSeconds second (tests shorten it).
var timeoutUnit = time.Second

var (
	errExecTimeout = errors.New("execution timed out")
	errTaskTimeout = errors.New("task timed out")
	// errStop reports that the context ended; callers decide why.
	errStop = errors.New("interp: stopped")
)

type execution struct {
	opts    Options
	clock   Clock
	execCtx *object
	smCtx   *object

	rngMu sync.Mutex
	rng   *rand.Rand

	emitMu sync.Mutex
}

type mapItem struct {
	index int
	value any
}

// evalEnv is what paths and templates see while one state runs.
type evalEnv struct {
	exec    *execution
	state   *state
	entered time.Time
	retries int
	item    *mapItem
	ctxObj  *object
}

func (ev *evalEnv) contextObject() *object {
	if ev.ctxObj != nil {
		return ev.ctxObj
	}
	o := newObject(4)
	o.put("Execution", ev.exec.execCtx)
	o.put("StateMachine", ev.exec.smCtx)
	st := newObject(3)
	st.put("EnteredTime", ev.entered.UTC().Format(timeFormat))
	st.put("Name", ev.state.name)
	st.put("RetryCount", intNumber(int64(ev.retries)))
	o.put("State", st)
	if ev.item != nil {
		it := newObject(2)
		it.put("Index", intNumber(int64(ev.item.index)))
		it.put("Value", ev.item.value)
		m := newObject(1)
		m.put("Item", it)
		o.put("Map", m)
	}
	ev.ctxObj = o
	return o
}

// resolve evaluates p against input or the context object; a definite
// path that matches nothing is a States.Runtime failure.
func (ev *evalEnv) resolve(p *path, input any) (any, error) {
	root := input
	if p.context {
		root = ev.contextObject()
	}
	v, ok := p.get(root)
	if !ok {
		return nil, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("The JSONPath %q could not be found in the input %s", p.src, snippet(root))}
	}
	return v, nil
}

// snippet describes a value in an error by its shape, never its content: a
// run's reason is shown to API callers, and state data holds parameters
// (customer data, sometimes) and dataset paths.
func snippet(v any) string {
	switch x := v.(type) {
	case *object:
		if len(x.keys) > 20 {
			return fmt.Sprintf("(an object with keys %s, ...)", strings.Join(x.keys[:20], ", "))
		}
		return fmt.Sprintf("(an object with keys %s)", strings.Join(x.keys, ", "))
	case []any:
		return fmt.Sprintf("(an array of %d)", len(x))
	case string:
		return "(a string)"
	case nil:
		return "(null)"
	case bool:
		return "(a boolean)"
	default:
		return "(a number)"
	}
}

// Run executes the machine; see the package-level Run.
func (m *Machine) Run(ctx context.Context, input json.RawMessage, opts Options) (json.RawMessage, error) {
	var in any = newObject(0)
	if len(bytes.TrimSpace(input)) > 0 {
		v, err := decodeJSON(input)
		if err != nil {
			return nil, fmt.Errorf("interp: invalid execution input: %w", err)
		}
		in = v
	}
	e := &execution{opts: opts, clock: opts.Clock}
	if e.clock == nil {
		e.clock = realClock{}
	}
	if opts.Seed != 0 {
		e.rng = rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15))
	} else {
		e.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	start := e.clock.Now()
	name := opts.ExecutionName
	if name == "" {
		name = e.uuid()
	}
	arn := opts.StateMachineARN
	if arn == "" {
		arn = defaultStateMachineARN
	}
	smName := arn[strings.LastIndex(arn, ":")+1:]
	execID := arn + ":" + name
	if parts := strings.Split(arn, ":"); len(parts) == 7 && parts[5] == "stateMachine" {
		parts[5] = "execution"
		execID = strings.Join(parts, ":") + ":" + name
	}
	e.execCtx = newObject(5)
	e.execCtx.put("Id", execID)
	e.execCtx.put("Input", in)
	e.execCtx.put("Name", name)
	e.execCtx.put("RoleArn", "arn:aws:iam::123456789012:role/stepwise-local")
	e.execCtx.put("StartTime", start.UTC().Format(timeFormat))
	e.smCtx = newObject(2)
	e.smCtx.put("Id", arn)
	e.smCtx.put("Name", smName)

	rctx, cancel := ctx, context.CancelFunc(func() {})
	if m.timeout > 0 {
		rctx, cancel = context.WithTimeoutCause(ctx, m.timeout, errExecTimeout)
	}
	defer cancel()

	if e.listening() {
		e.emit(Event{Type: ExecutionStarted, Input: encodeJSON(in)})
	}
	out, err := e.runMachine(rctx, m.root, in, nil)
	if err == nil {
		b := encodeJSON(out)
		if e.listening() {
			e.emit(Event{Type: ExecutionSucceeded, Output: b})
		}
		return b, nil
	}
	f, isFailure := err.(*Failure)
	if ctx.Err() != nil {
		if e.listening() {
			e.emit(Event{Type: ExecutionAborted})
		}
		return nil, fmt.Errorf("%w: %w", ErrAborted, context.Cause(ctx))
	}
	if rctx.Err() != nil {
		f, isFailure = &Failure{Name: ErrTimeout, Cause: fmt.Sprintf("The execution exceeded TimeoutSeconds (%s)", m.timeout)}, true
	}
	if !isFailure {
		return nil, err
	}
	if e.listening() {
		e.emit(Event{Type: ExecutionFailed, Error: f.Name, Cause: f.Cause})
	}
	return nil, f
}

func (e *execution) listening() bool { return e.opts.Listener != nil }

func (e *execution) emit(ev Event) {
	e.emitMu.Lock()
	defer e.emitMu.Unlock()
	ev.Time = e.clock.Now()
	e.opts.Listener(ev)
}

func (e *execution) stateEvent(typ EventType, st *state, p Path) Event {
	return Event{Type: typ, State: st.name, StateType: st.typ, Path: p}
}

func (e *execution) randInt64N(n int64) int64 {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return e.rng.Int64N(n)
}

func (e *execution) randFloat() float64 {
	e.rngMu.Lock()
	defer e.rngMu.Unlock()
	return e.rng.Float64()
}

// uuid returns a version 4 UUID from the execution's random source.
func (e *execution) uuid() string {
	var b [16]byte
	e.rngMu.Lock()
	for i := 0; i < 16; i += 8 {
		u := e.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(u >> (8 * j))
		}
	}
	e.rngMu.Unlock()
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hx = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hx[c>>4], hx[c&0xf])
	}
	return string(out)
}

func (e *execution) sleep(ctx context.Context, d time.Duration) error {
	d = e.opts.Wait.Apply(d)
	if d <= 0 {
		if ctx.Err() != nil {
			return errStop
		}
		return nil
	}
	if err := e.clock.Sleep(ctx, d); err != nil {
		return errStop
	}
	if ctx.Err() != nil {
		return errStop
	}
	return nil
}

// runMachine runs states from StartAt until one ends the machine.
func (e *execution) runMachine(ctx context.Context, m *machine, input any, p Path) (any, error) {
	name := m.startAt
	for {
		if ctx.Err() != nil {
			return nil, errStop
		}
		st := m.states[name]
		ev := &evalEnv{exec: e, state: st, entered: e.clock.Now()}
		if e.listening() {
			x := e.stateEvent(StateEntered, st, p)
			x.Input = encodeJSON(input)
			e.emit(x)
		}
		out, next, err := e.runState(ctx, ev, input, p)
		if err != nil {
			return nil, err
		}
		if e.listening() {
			x := e.stateEvent(StateExited, st, p)
			x.Output, x.Next = encodeJSON(out), next
			e.emit(x)
		}
		if next == "" {
			return out, nil
		}
		name, input = next, out
	}
}

// runState runs one state visit with its retriers and catchers.
func (e *execution) runState(ctx context.Context, ev *evalEnv, raw any, p Path) (any, string, error) {
	st := ev.state
	var counts []int
	for {
		out, next, err := e.attempt(ctx, ev, raw, p)
		if err == nil {
			return out, next, nil
		}
		f, ok := err.(*Failure)
		if !ok || ctx.Err() != nil {
			return nil, "", errStop
		}
		if f.Name == ErrRuntime && !f.located {
			f = &Failure{Name: f.Name, Cause: fmt.Sprintf("An error occurred while executing the state %q. %s", st.name, f.Cause), located: true}
		}
		if e.listening() {
			x := e.stateEvent(StateFailed, st, p)
			x.Error, x.Cause = f.Name, f.Cause
			e.emit(x)
		}
		if i := matchErrors(st, f.Name, func(i int) []string { return st.retry[i].errors }, len(st.retry)); i >= 0 {
			if counts == nil {
				counts = make([]int, len(st.retry))
			}
			r := &st.retry[i]
			if counts[i] < r.maxAttempts {
				delay := r.interval * math.Pow(r.backoff, float64(counts[i]))
				if r.maxDelay > 0 && delay > r.maxDelay {
					delay = r.maxDelay
				}
				if r.jitter {
					delay *= e.randFloat()
				}
				counts[i]++
				ev.retries++
				ev.ctxObj = nil
				d := time.Duration(delay * float64(time.Second))
				if e.listening() {
					x := e.stateEvent(StateRetried, st, p)
					x.Error, x.Cause, x.Attempt, x.Delay = f.Name, f.Cause, ev.retries, d
					e.emit(x)
				}
				if err := e.sleep(ctx, d); err != nil {
					return nil, "", err
				}
				continue
			}
		}
		if i := matchErrors(st, f.Name, func(i int) []string { return st.catch[i].errors }, len(st.catch)); i >= 0 {
			c := &st.catch[i]
			errOut := newObject(2)
			errOut.put("Error", f.Name)
			errOut.put("Cause", f.Cause)
			out, err := applyResultPath(c.resultPath, raw, errOut)
			if err != nil {
				return nil, "", err
			}
			if e.listening() {
				x := e.stateEvent(StateCaught, st, p)
				x.Error, x.Cause, x.Next = f.Name, f.Cause, c.next
				e.emit(x)
			}
			return out, c.next, nil
		}
		return nil, "", f
	}
}

// matchErrors returns the first retrier or catcher (of n) whose ErrorEquals
// matches name, or -1. States.Runtime is never matched.
func matchErrors(st *state, name string, list func(int) []string, n int) int {
	if name == ErrRuntime || name == ErrDataLimitExceeded {
		return -1
	}
	for i := 0; i < n; i++ {
		for _, e := range list(i) {
			if e == name || e == ErrALL || (e == ErrTaskFailed && st.typ == "Task" && name != ErrTimeout) {
				return i
			}
		}
	}
	return -1
}

func applyInputPath(ev *evalEnv, op optPath, v any) (any, error) {
	switch {
	case op.null:
		return newObject(0), nil
	case op.p == nil:
		return v, nil
	}
	return ev.resolve(op.p, v)
}

func applyResultPath(r optRef, raw, result any) (any, error) {
	switch {
	case r.null:
		return raw, nil
	case r.p == nil:
		return result, nil
	}
	return r.p.set(raw, result)
}

// finish applies ResultSelector, ResultPath and OutputPath.
func (e *execution) finish(ev *evalEnv, raw, result any) (any, error) {
	st := ev.state
	var err error
	if st.selector != nil {
		if result, err = st.selector.eval(ev, result); err != nil {
			return nil, err
		}
	}
	out, err := applyResultPath(st.resultPath, raw, result)
	if err != nil {
		return nil, err
	}
	return applyInputPath(ev, st.outputPath, out)
}

// effectiveInput applies InputPath and Parameters.
func (e *execution) effectiveInput(ev *evalEnv, raw any) (any, error) {
	in, err := applyInputPath(ev, ev.state.inputPath, raw)
	if err != nil {
		return nil, err
	}
	if ev.state.params != nil {
		return ev.state.params.eval(ev, in)
	}
	return in, nil
}

// attempt runs a state once.
func (e *execution) attempt(ctx context.Context, ev *evalEnv, raw any, p Path) (any, string, error) {
	st := ev.state
	switch st.typ {
	case "Pass":
		in, err := e.effectiveInput(ev, raw)
		if err != nil {
			return nil, "", err
		}
		if st.hasResult {
			in = st.result
		}
		out, err := e.finish(ev, raw, in)
		return out, st.next, err
	case "Task":
		in, err := e.effectiveInput(ev, raw)
		if err != nil {
			return nil, "", err
		}
		res, err := e.invoke(ctx, ev, in)
		if err != nil {
			return nil, "", err
		}
		out, err := e.finish(ev, raw, res)
		return out, st.next, err
	case "Choice":
		in, err := applyInputPath(ev, st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		next := st.def
		for _, r := range st.choices {
			ok, err := r.eval(ev, in)
			if err != nil {
				return nil, "", err
			}
			if ok {
				next = r.next
				break
			}
		}
		if next == "" {
			return nil, "", &Failure{Name: ErrNoChoiceMatched, Cause: fmt.Sprintf("No Choice rule matched and there is no Default in state %q", st.name)}
		}
		out, err := applyInputPath(ev, st.outputPath, in)
		return out, next, err
	case "Wait":
		in, err := applyInputPath(ev, st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		d, err := e.waitDuration(ev, in)
		if err != nil {
			return nil, "", err
		}
		if err := e.sleep(ctx, d); err != nil {
			return nil, "", err
		}
		out, err := applyInputPath(ev, st.outputPath, in)
		return out, st.next, err
	case "Succeed":
		in, err := applyInputPath(ev, st.inputPath, raw)
		if err != nil {
			return nil, "", err
		}
		out, err := applyInputPath(ev, st.outputPath, in)
		return out, "", err
	case "Fail":
		name, cause := st.errName, st.cause
		var err error
		if st.errorPath != nil {
			if name, err = e.dynString(ev, st.errorPath, raw, "ErrorPath"); err != nil {
				return nil, "", err
			}
		}
		if st.causePath != nil {
			if cause, err = e.dynString(ev, st.causePath, raw, "CausePath"); err != nil {
				return nil, "", err
			}
		}
		return nil, "", &Failure{Name: name, Cause: cause, located: true}
	case "Parallel":
		in, err := e.effectiveInput(ev, raw)
		if err != nil {
			return nil, "", err
		}
		res, err := e.fanOut(ctx, len(st.branches), len(st.branches), func(ctx context.Context, i int) (any, error) {
			return e.runMachine(ctx, st.branches[i], in, appendPath(p, PathElem{State: st.name, Branch: i, Index: -1}))
		})
		if err != nil {
			return nil, "", err
		}
		out, err := e.finish(ev, raw, res)
		return out, st.next, err
	case "Map":
		return e.runMap(ctx, ev, raw, p)
	}
	return nil, "", &Failure{Name: ErrRuntime, Cause: "unknown state type " + st.typ}
}

func appendPath(p Path, e PathElem) Path {
	out := make(Path, len(p), len(p)+1)
	copy(out, p)
	return append(out, e)
}

func (e *execution) dynString(ev *evalEnv, d *dynString, input any, field string) (string, error) {
	var v any
	var err error
	if d.p != nil {
		v, err = ev.resolve(d.p, input)
	} else {
		v, err = d.call.eval(ev, input)
	}
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("%s must resolve to a string, got %s", field, typeName(v))}
	}
	return s, nil
}

func (e *execution) waitDuration(ev *evalEnv, in any) (time.Duration, error) {
	st := ev.state
	switch {
	case st.hasSeconds:
		return time.Duration(st.seconds) * time.Second, nil
	case st.hasTimestamp:
		return st.timestamp.Sub(e.clock.Now()), nil
	case st.secondsPath != nil:
		v, err := ev.resolve(st.secondsPath, in)
		if err != nil {
			return 0, err
		}
		n, ok := toInt(v)
		if !ok || n < 0 {
			return 0, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("SecondsPath %q must point to a non-negative integer, got %s", st.secondsPath.src, snippet(v))}
		}
		return time.Duration(n) * time.Second, nil
	}
	v, err := ev.resolve(st.timestampPath, in)
	if err != nil {
		return 0, err
	}
	s, _ := v.(string)
	t, ok := parseTimestamp(s)
	if !ok {
		return 0, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("TimestampPath %q must point to an RFC 3339 timestamp, got %s", st.timestampPath.src, snippet(v))}
	}
	return t.Sub(e.clock.Now()), nil
}

type invokeResult struct {
	out json.RawMessage
	err error
}

func (e *execution) invoke(ctx context.Context, ev *evalEnv, in any) (any, error) {
	st := ev.state
	inv := e.opts.Invoker
	if st.resource == asl.AthenaQuerySync {
		if e.opts.Athena == nil {
			return nil, &Failure{Name: ErrRuntime, Cause: "no Athena configured for " + asl.AthenaQuerySync}
		}
		inv = InvokerFunc(func(ctx context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
			return e.opts.Athena.QuerySync(ctx, in)
		})
	}
	if inv == nil {
		return nil, &Failure{Name: ErrRuntime, Cause: "no Invoker configured for Task states"}
	}
	timeout := st.timeout
	if st.timeoutPath != nil {
		v, err := ev.resolve(st.timeoutPath, in)
		if err != nil {
			return nil, err
		}
		n, ok := toInt(v)
		if !ok || n <= 0 {
			return nil, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("TimeoutSecondsPath %q must point to a positive integer", st.timeoutPath.src)}
		}
		timeout = time.Duration(n) * timeoutUnit
	}
	payload := encodeJSON(in)
	var r invokeResult
	tctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		tctx, cancel = context.WithTimeoutCause(ctx, timeout, errTaskTimeout)
		defer cancel()
	}
	if tctx.Done() == nil {
		r.out, r.err = inv.Invoke(tctx, st.resource, payload)
	} else {
		// Run the invoker aside so a timeout or cancellation returns
		// promptly even if it ignores its context.
		ch := make(chan invokeResult, 1)
		go func() {
			out, err := inv.Invoke(tctx, st.resource, payload)
			ch <- invokeResult{out, err}
		}()
		select {
		case r = <-ch:
		case <-tctx.Done():
			r.err = context.Cause(tctx)
		}
	}
	if r.err != nil {
		if ctx.Err() != nil {
			return nil, errStop
		}
		if tctx.Err() != nil && context.Cause(tctx) == errTaskTimeout {
			return nil, &Failure{Name: ErrTimeout, Cause: fmt.Sprintf("Task timed out after %s", timeout)}
		}
		return nil, &Failure{Name: ErrorName(r.err), Cause: ErrorCause(r.err)}
	}
	if len(bytes.TrimSpace(r.out)) == 0 {
		return nil, nil
	}
	v, err := decodeJSON(r.out)
	if err != nil {
		return nil, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("Task %s returned invalid JSON: %v", st.resource, err)}
	}
	return v, nil
}

func (e *execution) runMap(ctx context.Context, ev *evalEnv, raw any, p Path) (any, string, error) {
	st := ev.state
	in, err := applyInputPath(ev, st.inputPath, raw)
	if err != nil {
		return nil, "", err
	}
	items := in
	if st.itemsPath != nil {
		if items, err = ev.resolve(st.itemsPath, in); err != nil {
			return nil, "", err
		}
	}
	if st.reader != nil {
		if items, err = e.readItems(ctx, ev, in); err != nil {
			return nil, "", err
		}
	}
	arr, ok := items.([]any)
	if !ok {
		return nil, "", &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("Map items must be an array, got %s", typeName(items))}
	}
	limit := st.maxConc
	if st.maxConcPath != nil {
		v, err := ev.resolve(st.maxConcPath, in)
		if err != nil {
			return nil, "", err
		}
		n, ok := toInt(v)
		if !ok || n < 0 {
			return nil, "", &Failure{Name: ErrRuntime, Cause: "MaxConcurrencyPath must point to a non-negative integer"}
		}
		limit = int(min(n, math.MaxInt32))
	}
	if limit == 0 {
		limit = defaultMapConcurrency
	}
	res, err := e.fanOut(ctx, len(arr), limit, func(ctx context.Context, i int) (any, error) {
		itemIn := arr[i]
		if st.itemSel != nil {
			iev := &evalEnv{exec: e, state: st, entered: ev.entered, retries: ev.retries, item: &mapItem{i, arr[i]}}
			v, err := st.itemSel.eval(iev, in)
			if err != nil {
				return nil, err
			}
			itemIn = v
		}
		out, err := e.runMachine(ctx, st.processor, itemIn, appendPath(p, PathElem{State: st.name, Branch: -1, Index: i}))
		if f, ok := err.(*Failure); ok && st.distributed {
			// A child execution failed: with no tolerated failures the Map
			// Run fails (AWS's cause is generic; here it names the child's).
			return nil, &Failure{Name: ErrExceedToleratedFailureThreshold, Cause: fmt.Sprintf("item %d failed: %s", i, f.Error())}
		}
		return out, err
	})
	if err != nil {
		return nil, "", err
	}
	var result any = res
	if st.writer != nil {
		if result, err = e.writeResults(ctx, ev, in, arr, res); err != nil {
			return nil, "", err
		}
	}
	out, err := e.finish(ev, raw, result)
	return out, st.next, err
}

// readItems reads a distributed Map's items: the JSON array at the
// ItemReader's Bucket and Key (at most MaxItems of them).
func (e *execution) readItems(ctx context.Context, ev *evalEnv, in any) (any, error) {
	st := ev.state
	loc, err := e.s3Location(ev, st.reader, in, "Key")
	if err != nil {
		return nil, err
	}
	if e.opts.S3 == nil {
		return nil, &Failure{Name: ErrItemReaderFailed, Cause: "no S3 configured for " + asl.S3GetObject}
	}
	b, err := e.opts.S3.GetObject(ctx, loc[0], loc[1])
	if err != nil {
		return nil, &Failure{Name: ErrItemReaderFailed, Cause: fmt.Sprintf("s3://%s/%s: %v", loc[0], loc[1], err)}
	}
	v, err := decodeJSON(b)
	arr, ok := v.([]any)
	if err != nil || !ok {
		return nil, &Failure{Name: ErrItemReaderFailed, Cause: fmt.Sprintf("s3://%s/%s is not a JSON array", loc[0], loc[1])}
	}
	if st.maxItems > 0 && len(arr) > st.maxItems {
		arr = arr[:st.maxItems]
	}
	return arr, nil
}

// writeResults writes a distributed Map's results as Step Functions'
// ResultWriter does: <Prefix>/<map run id>/SUCCEEDED_0.json (each child's
// Input and Output as JSON text) and manifest.json beside it; the Map's
// result is then the manifest's location.
func (e *execution) writeResults(ctx context.Context, ev *evalEnv, in any, items, outs []any) (any, error) {
	loc, err := e.s3Location(ev, ev.state.writer, in, "Prefix")
	if err != nil {
		return nil, err
	}
	if e.opts.S3 == nil {
		return nil, &Failure{Name: ErrResultWriterFailed, Cause: "no S3 configured for " + asl.S3PutObject}
	}
	id := e.uuid()
	execID, _ := e.execCtx.get("Id")
	runARN := strings.Replace(fmt.Sprint(execID), ":execution:", ":mapRun:", 1) + "/" + ev.state.name + ":" + id
	dir := strings.TrimSuffix(loc[1], "/") + "/" + id + "/"
	results := make([]any, len(outs))
	for i := range outs {
		r := newObject(3)
		r.put("Input", string(encodeJSON(items[i])))
		r.put("Output", string(encodeJSON(outs[i])))
		r.put("Status", "SUCCEEDED")
		results[i] = r
	}
	body := encodeJSON(results)
	put := func(key string, b []byte) error {
		if err := e.opts.S3.PutObject(ctx, loc[0], key, b); err != nil {
			return &Failure{Name: ErrResultWriterFailed, Cause: fmt.Sprintf("s3://%s/%s: %v", loc[0], key, err)}
		}
		return nil
	}
	if err := put(dir+"SUCCEEDED_0.json", body); err != nil {
		return nil, err
	}
	file := newObject(2)
	file.put("Key", dir+"SUCCEEDED_0.json")
	file.put("Size", json.Number(strconv.Itoa(len(body))))
	files := newObject(3)
	files.put("FAILED", []any{})
	files.put("PENDING", []any{})
	files.put("SUCCEEDED", []any{file})
	m := newObject(3)
	m.put("DestinationBucket", loc[0])
	m.put("MapRunArn", runARN)
	m.put("ResultFiles", files)
	if err := put(dir+"manifest.json", encodeJSON(m)); err != nil {
		return nil, err
	}
	details := newObject(2)
	details.put("Bucket", loc[0])
	details.put("Key", dir+"manifest.json")
	out := newObject(2)
	out.put("MapRunArn", runARN)
	out.put("ResultWriterDetails", details)
	return out, nil
}

// s3Location evaluates an ItemReader's or ResultWriter's Parameters to
// their Bucket and key (Key or Prefix).
func (e *execution) s3Location(ev *evalEnv, t *tmpl, in any, key string) ([2]string, error) {
	v, err := t.eval(ev, in)
	if err != nil {
		return [2]string{}, err
	}
	o, _ := v.(*object)
	var loc [2]string
	for i, k := range []string{"Bucket", key} {
		var x any
		if o != nil {
			x, _ = o.get(k)
		}
		s, ok := x.(string)
		if !ok || s == "" {
			return loc, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("Map %s: Parameters.%s must be a non-empty string, got %s", ev.state.name, k, typeName(x))}
		}
		loc[i] = s
	}
	return loc, nil
}

// fanOut runs n jobs with at most limit at once; the first failure
// cancels the others and is returned.
func (e *execution) fanOut(ctx context.Context, n, limit int, job func(context.Context, int) (any, error)) ([]any, error) {
	results := make([]any, n)
	if n == 0 {
		return results, nil
	}
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		mu       sync.Mutex
		firstErr *Failure
		wg       sync.WaitGroup
	)
	workers := min(limit, n)
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || fctx.Err() != nil {
					return
				}
				v, err := job(fctx, i)
				if err != nil {
					if f, ok := err.(*Failure); ok {
						mu.Lock()
						if firstErr == nil {
							firstErr = f
						}
						mu.Unlock()
					}
					cancel()
					return
				}
				results[i] = v
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, errStop
	}
	if firstErr != nil {
		return nil, firstErr
	}
	if fctx.Err() != nil {
		return nil, errStop
	}
	return results, nil
}
