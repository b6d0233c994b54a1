// Package executor runs a compiled campaign on one machine: the same ASL the
// cloud runs, interpreted in-process, with a folder for S3, an embedded store
// for DynamoDB and an outbox for messages.
package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/local/athenalocal"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/plan"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Local is a local Stepwise home: blob folder, state store, work dir.
type Local struct {
	Home  string
	Blob  blob.Store
	State state.Store
	// Bundles stores compiled bundles and their plans; Plans loads plans.
	Bundles *compile.Publisher
	Plans   *runner.Plans
	// Families are the activity families' dependencies (a trigger may be
	// set once an API is up).
	Families *builtin.Families
	// Compiler is what validates and compiles campaigns here.
	Compiler Compiler
	Env      *activity.Env
	Runner   *runner.Runner
	roots    *fileroot.Roots
	closers  []func() error
	athena   *athenalocal.Athena
}

// Compiler is the registry and checkers campaigns are compiled with, and
// where the columns of table sources are read.
type Compiler struct {
	Registry *activity.Registry
	Checkers compile.Checkers
	Schemas  *dataset.SchemaProbe
}

// Open opens (creating) the home folder to write to it: runs, serving. It
// takes the home's holder lock: while another process has it, Open fails
// with ErrHomeBusy naming that process.
func Open(home string) (*Local, error) { return open(home, true) }

// OpenRead opens the home to read runs and tasks, beside a process that
// writes to it. It takes no holder lock; the state store shares the file
// transaction by transaction.
func OpenRead(home string) (*Local, error) { return open(home, false) }

func open(home string, write bool) (*Local, error) {
	abs, err := filepath.Abs(home)
	if err != nil {
		return nil, err
	}
	// The home holds personal data: owner-only, whatever the umask.
	for _, d := range []string{"", "blob", "work"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return nil, err
	}
	if err := fileroot.MarkHome(abs); err != nil {
		return nil, err
	}
	bs, err := folderblob.New(filepath.Join(abs, "blob"))
	if err != nil {
		return nil, err
	}
	closers := []func() error{}
	if write {
		unhold, err := holdHome(abs, time.Now())
		if err != nil {
			return nil, err
		}
		closers = append(closers, unhold)
	}
	st, err := boltstate.Open(filepath.Join(abs, "state.db"))
	if errors.Is(err, bolterrors.ErrTimeout) {
		err = fmt.Errorf("%w (%s): a process of an older version holds it; wait for it to end", ErrHomeBusy, abs)
	}
	if err != nil {
		for _, c := range closers {
			c()
		}
		return nil, fmt.Errorf("open the state store under %s: %w", abs, err)
	}
	l := &Local{Home: abs, Blob: bs, State: st, Bundles: &compile.Publisher{Blob: bs}, closers: append(closers, st.Close),
		Compiler: Compiler{Registry: builtin.Registry(), Checkers: builtin.Checkers(), Schemas: builtin.Schemas()},
		Env:      &activity.Env{WorkDir: filepath.Join(abs, "work")},
		roots:    &fileroot.Roots{Dirs: []string{filepath.Join(abs, fileroot.UploadsDir)}}}
	host := builtin.Host{Blob: bs, State: st, MemoryLimit: localMemoryLimit(), Roots: l.roots, Signals: signalDir(abs)}
	// engine: athena runs its statements on DuckDB here (athenalocal).
	l.athena = &athenalocal.Athena{Blob: bs, NewEngine: func() (*dataset.Engine, error) {
		return dataset.New(dataset.Options{Store: bs, WorkDir: filepath.Join(abs, "work"), MemoryLimit: localMemoryLimit()})
	}}
	l.closers = append(l.closers, l.athena.Close)
	host.Athena = l.athena
	// A channel's listed slices are read by the interpreter's distributed
	// Map from the same stand-in bucket (l.athena serves interp.Options.S3).
	host.RunBucket = channel.RunBucket{Bucket: athenalocal.Bucket}
	if err := configureSender(l, &host); err != nil {
		l.Close()
		return nil, err
	}
	l.Families = builtin.NewFamilies(host)
	reg := builtin.Bind(l.Families)
	l.Plans = &runner.Plans{Blob: bs, Registry: reg}
	l.Runner = &runner.Runner{Registry: reg, Env: l.Env, Store: st, Plans: l.Plans, Signals: signalDir(abs)}
	return l, nil
}

// localMemoryLimit caps DuckDB on a workstation: one engine serves the whole
// run and spills to the home's work folder beyond the cap, so that a
// campaign over millions of customers stays within a laptop's memory.
// STEPWISE_MEMORY_MB overrides it.
func localMemoryLimit() int64 {
	const ceiling = 2 << 30
	n := dataset.DefaultMemoryLimit()
	if os.Getenv(dataset.EnvMemoryLimit) == "" && (n == 0 || n > ceiling) {
		n = ceiling
	}
	return n
}

// AllowFiles adds roots load-file may read besides the campaign folder and
// the home's uploads: local folders or s3:// prefixes (--file-root).
func (l *Local) AllowFiles(roots ...string) error {
	for _, root := range roots {
		if err := l.roots.Add(root); err != nil {
			return fmt.Errorf("file root %q: %w", root, err)
		}
	}
	return nil
}

// Close releases the sender and the state store.
func (l *Local) Close() error {
	var err error
	for i := len(l.closers) - 1; i >= 0; i-- {
		err = l.closers[i]()
	}
	return err
}

// Options of one run.
type Options struct {
	Params         map[string]any
	Test           bool
	RunID          string
	IdempotencyKey string
	Version        int
	Wait           interp.WaitMode
	// Resume continues the recorded run RunID (see Local.Resume).
	Resume bool
	// Progress receives activity events as they happen.
	Progress func(Progress)
	// ProgressEvery is how often sends under way are reported (default 2 s).
	ProgressEvery time.Duration
}

// Progress is a run starting, or an activity starting, ending, held,
// suspended, waiting or sending (see the Progress statuses).
type Progress struct {
	Activity string
	Type     string
	Status   string           // started, running, succeeded, failed, skipped, held, released, suspended, resumed, waiting, sending
	Counts   map[string]int64 // activated ports, when done
	Time     time.Time
	RunID    string
	// Until and Reason: waiting (Reason: quiet hours, or the activity type);
	// Reason also carries a suspended activity's failure.
	Until  time.Time
	Reason string
	// Done of Total recipients settled, Rate per second since the last report: sending.
	Done, Total int64
	Rate        float64
}

// ErrStopped is returned when the run ended before completing because its
// context was cancelled (Ctrl-C: the run is recorded suspended, "interrupted",
// and can be resumed) or it was stopped (`stepwise stop`, the API: recorded
// stopped). The summary's status tells which.
var ErrStopped = errors.New("run stopped")

// Interrupted is the reason recorded on a run whose process was interrupted.
const Interrupted = "interrupted"

// errStopSignal cancels a run that was sent the stop signal.
var errStopSignal = errors.New("stopped with `stepwise stop`")

// Run executes a compiled program and returns the run's summary.
func (l *Local) Run(ctx context.Context, p *compile.Program, o Options) (*runner.Summary, error) {
	if err := l.Bundles.Publish(ctx, p.Campaign.ID, p.Bundle); err != nil {
		return nil, fmt.Errorf("publish the bundle: %w", err)
	}
	l.Plans.Remember(p.Campaign.ID, p.Compiled())
	// Local runs of a file: keep a draft record so `stepwise runs` lists them.
	if _, err := l.State.CreateCampaign(ctx, state.Campaign{ID: p.Campaign.ID, Name: p.Campaign.Name, Draft: p.Bundle.Campaign}); err != nil && !errors.Is(err, state.ErrExists) {
		return nil, fmt.Errorf("record the campaign: %w", err)
	}
	if o.RunID == "" && o.IdempotencyKey == "" {
		o.RunID = state.NewRunID()
	}
	input, _ := json.Marshal(runner.ExecutionInput{Params: o.Params, Test: o.Test, RunID: o.RunID, IdempotencyKey: o.IdempotencyKey, Version: o.Version, Resume: o.Resume})
	// Record the run's bundle before it starts: a killed run can be resumed.
	if o.RunID != "" {
		if err := l.remember(ctx, o.RunID, p); err != nil {
			return nil, fmt.Errorf("record run %s: %w", o.RunID, err)
		}
	}
	tracker := newTracker(p, o.Progress)
	tracker.wait = o.Wait
	tracker.note = func(runID, act string, w *state.TaskWait) {
		// Best effort: a note only tells readers why the run waits. A wait
		// activity has no task until it ends (no function runs it): it starts
		// one.
		nctx := context.WithoutCancel(ctx)
		_, err := l.State.UpdateTask(nctx, runID, act, state.TaskUpdate{At: time.Now(), Waiting: w})
		if errors.Is(err, state.ErrConflict) {
			if _, err := l.State.GetTask(nctx, runID, act); errors.Is(err, state.ErrNotFound) {
				l.State.UpdateTask(nctx, runID, act, state.TaskUpdate{Status: state.TaskRunning, At: time.Now(), Waiting: w})
			}
		}
	}
	var live *liveLock
	defer func() { live.release() }()
	tracker.started = func(runID string) {
		if runID != o.RunID {
			// A run found by its idempotency key. Without the record it can
			// still be resumed by starting it again with the key.
			l.remember(ctx, runID, p)
		}
		live = holdLive(l.Home, runID)
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchDone := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		l.watch(rctx, tracker, o.ProgressEvery, watchDone, cancel)
	}()
	out, err := interp.Run(rctx, p.JSON, input, interp.Options{Invoker: l.Runner, Athena: l.athena, S3: l.athena, Wait: o.Wait, Listener: tracker.event,
		ExecutionName: o.RunID})
	close(watchDone)
	<-watched
	runID := tracker.runID
	if runID == "" {
		runID = o.RunID
	}
	if err != nil {
		if rctx.Err() != nil && runID != "" {
			if errors.Is(context.Cause(rctx), errStopSignal) {
				l.stop(runID, errStopSignal.Error())
			} else {
				// Ctrl-C: the run can be resumed. Datasets become visible
				// only with their manifest, so nothing half-written shows.
				l.interrupt(runID)
			}
			s, serr := l.summary(runID)
			if serr == nil {
				return s, ErrStopped
			}
			return nil, ErrStopped
		}
		if runID != "" {
			if s, serr := l.summary(runID); serr == nil {
				if s.Status == string(state.RunRunning) {
					l.fail(runID, err.Error())
					s, _ = l.summary(runID)
				}
				return s, fmt.Errorf("run %s failed: %s", runID, firstErr(tracker.lastErr, err))
			}
		}
		return nil, fmt.Errorf("%s", firstErr(tracker.lastErr, err))
	}
	var s runner.Summary
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("unexpected run output: %w", err)
	}
	return &s, nil
}

func (l *Local) summary(runID string) (*runner.Summary, error) {
	run, err := l.State.GetRun(context.Background(), runID)
	if err != nil {
		return nil, err
	}
	return l.Runner.Summarize(context.Background(), run)
}

func (l *Local) stop(runID, reason string) {
	for _, from := range []state.RunStatus{state.RunRunning, state.RunSuspended} {
		if _, err := l.State.SetRunStatus(context.Background(), runID, from, state.RunStopped, reason, time.Now()); err == nil {
			return
		}
	}
}

// interrupt records a run whose process was interrupted as suspended, so
// that it can be resumed; a suspended run stays as it is.
func (l *Local) interrupt(runID string) {
	l.State.SetRunStatus(context.Background(), runID, state.RunRunning, state.RunSuspended, Interrupted, time.Now())
}

// watch takes the run's stop signal and reports sends under way until done.
func (l *Local) watch(ctx context.Context, t *tracker, every time.Duration, done <-chan struct{}, cancel context.CancelCauseFunc) {
	if every <= 0 {
		every = 2 * time.Second
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	s := &sampler{t: t, ledger: l.State}
	var last time.Time
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-tick.C:
			t.mu.Lock()
			runID := t.runID
			t.mu.Unlock()
			if runID != "" && os.Remove(SignalPath(l.Home, runID, "stop")) == nil {
				cancel(errStopSignal)
				return
			}
			if t.emit != nil && now.Sub(last) >= every {
				last = now
				s.sample(ctx, now)
			}
		}
	}
}

func (l *Local) fail(runID, reason string) {
	l.State.SetRunStatus(context.Background(), runID, state.RunRunning, state.RunFailed, reason, time.Now())
}

// tracker turns interpreter events into activity progress.
type tracker struct {
	mu      sync.Mutex
	p       *compile.Program
	emit    func(Progress)
	wait    interp.WaitMode
	runID   string
	lastErr string // the last error caught or raised, with its cause
	running map[string]bool
	// started is called once the run has its id.
	started func(runID string)
	// note records on the task what it waits for (nil: no longer waiting).
	note      func(runID, activity string, w *state.TaskWait)
	held      map[string]bool
	suspended map[string]bool
	sending   map[string]*sendState
	waits     map[string]*asl.State
}

func newTracker(p *compile.Program, emit func(Progress)) *tracker {
	return &tracker{p: p, emit: emit, running: map[string]bool{}, held: map[string]bool{}, suspended: map[string]bool{},
		sending: map[string]*sendState{}, waits: waitStates(p.JSON)}
}

func (t *tracker) emitLocked(pr Progress) {
	if t.emit != nil {
		t.emit(pr)
	}
}

// activityOf maps a state name to its activity and the state's role there.
func (t *tracker) activityOf(state string) (string, plan.Role) {
	s, ok := t.p.States.Activities[state]
	if !ok {
		return "", ""
	}
	return s.Activity, s.Role
}

func (t *tracker) event(ev interp.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ev.Error != "" && (ev.Type == interp.StateCaught || ev.Type == interp.StateFailed && t.lastErr == "") {
		t.lastErr = ev.Error + ": " + causeMessage(ev.Cause)
	}
	if ev.Type == interp.StateExited && ev.State == t.p.States.Start {
		var st struct {
			Run activity.RunInfo `json:"run"`
		}
		if json.Unmarshal(ev.Output, &st) == nil {
			t.runID = st.Run.ID
			if t.started != nil {
				t.started(t.runID)
			}
			t.emitLocked(Progress{Status: ProgressStarted, RunID: t.runID, Time: ev.Time})
		}
	}
	if ev.Type == interp.StateEntered && ev.StateType == "Wait" {
		defer t.waiting(ev)
	}
	if t.special(ev) || t.emit == nil {
		return
	}
	id, role := t.activityOf(ev.State)
	if id == "" {
		return
	}
	typ := t.p.Specs[id].Type
	if inMap(ev.Path) {
		return // inside a Map iteration (a slice of a channel)
	}
	switch ev.Type {
	case interp.StateEntered:
		if !t.running[id] && role == plan.RoleWork {
			t.running[id] = true
			t.emit(Progress{Activity: id, Type: typ, Status: "running", Time: ev.Time})
		}
	case interp.StateExited:
		if next, _ := t.activityOf(ev.Next); ev.Next != "" && next == id {
			return
		}
		res, ok := resultIn(ev.Output, id)
		if !ok {
			return
		}
		counts := map[string]int64{}
		for port, ref := range res.Ports {
			if ref != nil {
				counts[port] = res.Counts[port]
			}
		}
		delete(t.sending, id)
		delete(t.held, id)
		delete(t.suspended, id)
		t.emit(Progress{Activity: id, Type: typ, Status: res.Status, Counts: counts, Time: ev.Time})
	}
}

// resultIn finds an activity's Result in a state output: at r.<id>, or the
// output itself (a Parallel branch's last state).
func resultIn(out json.RawMessage, id string) (activity.Result, bool) {
	var st struct {
		R map[string]activity.Result `json:"r"`
	}
	if json.Unmarshal(out, &st) == nil {
		if r, ok := st.R[id]; ok && r.Status != "" {
			return r, true
		}
	}
	var r activity.Result
	if json.Unmarshal(out, &r) == nil && r.Status != "" && r.Counts != nil {
		return r, true
	}
	return activity.Result{}, false
}

// t2 prefers the caught error's cause over the execution's generic failure.
func firstErr(caught string, err error) string {
	if caught != "" {
		return caught
	}
	return err.Error()
}

// causeMessage extracts errorMessage from a Lambda-style cause.
func causeMessage(cause string) string {
	var c struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &c) == nil && c.ErrorMessage != "" {
		return c.ErrorMessage
	}
	return cause
}

// Athena is the stand-in that runs engine: athena statements here.
func (l *Local) Athena() *athenalocal.Athena { return l.athena }
