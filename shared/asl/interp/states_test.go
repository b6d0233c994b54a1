package interp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestInputOutputProcessing(t *testing.T) {
	const in = `{"a":{"b":1},"list":[1,2],"s":"x"}`
	tests := []struct {
		name, def, want, err string
	}{
		{"pass through", passMachine(`"Comment":"c"`), in, ""},
		{"result replaces", passMachine(`"Result":{"r":1}`), `{"r":1}`, ""},
		{"result path", passMachine(`"Result":{"r":1},"ResultPath":"$.out"`), `{"a":{"b":1},"list":[1,2],"s":"x","out":{"r":1}}`, ""},
		{"result path nested", passMachine(`"Result":2,"ResultPath":"$.a.c"`), `{"a":{"b":1,"c":2},"list":[1,2],"s":"x"}`, ""},
		{"result path $", passMachine(`"Result":3,"ResultPath":"$"`), `3`, ""},
		{"result path null", passMachine(`"Result":3,"ResultPath":null`), in, ""},
		{"input path", passMachine(`"InputPath":"$.a"`), `{"b":1}`, ""},
		{"input path null", passMachine(`"InputPath":null`), `{}`, ""},
		{"output path", passMachine(`"OutputPath":"$.list"`), `[1,2]`, ""},
		{"output path null", passMachine(`"OutputPath":null`), `{}`, ""},
		{"output path indefinite", passMachine(`"OutputPath":"$.list[*]"`), `[1,2]`, ""},
		{"input then result path use the raw input", passMachine(`"InputPath":"$.a","Parameters":{"c.$":"$.b"},"ResultPath":"$.p"`), `{"a":{"b":1},"list":[1,2],"s":"x","p":{"c":1}}`, ""},
		{"parameters nested", passMachine(`"Parameters":{"x":{"y.$":"$.s","z":[{"w.$":"$.a.b"},2]},"lit":null}`), `{"x":{"y":"x","z":[{"w":1},2]},"lit":null}`, ""},
		{"result wins over parameters", passMachine(`"Parameters":{"x":1},"Result":"r"`), `"r"`, ""},
		{"missing input path", passMachine(`"InputPath":"$.nope"`), "", ErrRuntime},
		{"missing output path", passMachine(`"OutputPath":"$.nope"`), "", ErrRuntime},
		{"missing parameter path", passMachine(`"Parameters":{"x.$":"$.nope"}`), "", ErrRuntime},
		{"result path into a string", passMachine(`"ResultPath":"$.s.t"`), "", ErrResultPathMatchFailure},
		{"succeed paths", `{"StartAt":"S","States":{"S":{"Type":"Succeed","InputPath":"$.a","OutputPath":"$.b"}}}`, `1`, ""},
		{"task selector and paths", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","InputPath":"$.a","Parameters":{"v.$":"$.b"},
		  "ResultSelector":{"got.$":"$.v","n":1},"ResultPath":"$.res","OutputPath":"$.res","End":true}}}`, `{"got":1,"n":1}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runDef(t, tt.def, in, Options{})
			if tt.err != "" {
				if failureName(err) != tt.err {
					t.Fatalf("err %v, want %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, out, tt.want) {
				t.Errorf("output %s, want %s", out, tt.want)
			}
		})
	}
}

func TestEmptyInputIsObject(t *testing.T) {
	out, err := runDef(t, passMachine(`"Comment":"x"`), "", Options{})
	if err != nil || out != "{}" {
		t.Fatalf("output %s, %v; want {}", out, err)
	}
	if _, err := runDef(t, passMachine(`"Comment":"x"`), "{bad", Options{}); err == nil {
		t.Fatal("invalid input: want error")
	}
}

func TestContextObject(t *testing.T) {
	clock := newFakeClock()
	def := passMachine(`"Parameters":{"id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","input.$":"$$.Execution.Input",
	  "start.$":"$$.Execution.StartTime","state.$":"$$.State.Name","entered.$":"$$.State.EnteredTime","retries.$":"$$.State.RetryCount",
	  "sm.$":"$$.StateMachine.Id","smName.$":"$$.StateMachine.Name"}`)
	out, err := runDef(t, def, `{"k":1}`, Options{Clock: clock, ExecutionName: "run-1",
		StateMachineARN: "arn:aws:states:eu-west-1:111122223333:stateMachine:campaign"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"arn:aws:states:eu-west-1:111122223333:execution:campaign:run-1","name":"run-1","input":{"k":1},
	  "start":"2026-03-01T12:00:00.000Z","state":"P","entered":"2026-03-01T12:00:00.000Z","retries":0,
	  "sm":"arn:aws:states:eu-west-1:111122223333:stateMachine:campaign","smName":"campaign"}`
	if !sameJSON(t, out, want) {
		t.Errorf("context %s, want %s", out, want)
	}
	// $$.Execution.Input is the execution's input inside a Map iteration too.
	def = `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items","ItemProcessor":{"StartAt":"I","States":{
	  "I":{"Type":"Pass","Parameters":{"orig.$":"$$.Execution.Input.tag","item.$":"$"},"End":true}}},"End":true}}}`
	out, err = runDef(t, def, `{"tag":"t","items":[1]}`, Options{})
	if err != nil || !sameJSON(t, out, `[{"orig":"t","item":1}]`) {
		t.Errorf("map context: %s, %v", out, err)
	}
}

func TestFailState(t *testing.T) {
	tests := []struct {
		fields, name, cause string
	}{
		{`"Error":"E","Cause":"C"`, "E", "C"},
		{`"Error":"E"`, "E", ""},
		{`"ErrorPath":"$.e","CausePath":"$.c"`, "dyn", "why"},
		{`"ErrorPath":"States.Format('{}.{}', $.e, 'x')","CausePath":"States.JsonToString($.o)"`, "dyn.x", `{"a":1}`},
	}
	for _, tt := range tests {
		def := `{"StartAt":"F","States":{"F":{"Type":"Fail",` + tt.fields + `}}}`
		_, err := runDef(t, def, `{"e":"dyn","c":"why","o":{"a":1}}`, Options{})
		var f *Failure
		if !errors.As(err, &f) || f.Name != tt.name || f.Cause != tt.cause {
			t.Errorf("{%s}: err %v, want %s: %s", tt.fields, err, tt.name, tt.cause)
		}
	}
	def := `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.o"}}}`
	if _, err := runDef(t, def, `{"o":{}}`, Options{}); failureName(err) != ErrRuntime {
		t.Errorf("non-string ErrorPath: err %v, want %s", err, ErrRuntime)
	}
}

// scriptedInvoker fails with the given errors in turn, then echoes.
type scriptedInvoker struct {
	errs  []error
	calls int
}

func (s *scriptedInvoker) Invoke(_ context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
	s.calls++
	if s.calls <= len(s.errs) {
		return nil, s.errs[s.calls-1]
	}
	return in, nil
}

type ErrorA struct{}

func (*ErrorA) Error() string { return "a" }

type ErrorB struct{}

func (ErrorB) Error() string { return "b" }

type named struct{ name string }

func (n named) Error() string     { return "named " + n.name }
func (n named) ErrorName() string { return n.name }

func TestErrorName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&ErrorA{}, "ErrorA"},
		{ErrorB{}, "ErrorB"},
		{errors.New("x"), "errorString"},
		{fmt.Errorf("wrap: %w", &ErrorA{}), "wrapError"},
		{named{"Custom.Name"}, "Custom.Name"},
		{&Failure{Name: "F", Cause: "c"}, "F"},
	}
	for _, tt := range tests {
		if got := ErrorName(tt.err); got != tt.want {
			t.Errorf("ErrorName(%T) = %q, want %q", tt.err, got, tt.want)
		}
	}
	if got := ErrorCause(errors.New("boom")); got != `{"errorMessage":"boom","errorType":"errorString"}` {
		t.Errorf("ErrorCause = %s", got)
	}
	if got := (&Failure{Name: "F", Cause: "c"}).Error(); got != "F: c" {
		t.Errorf("Failure.Error = %q", got)
	}
	if got := ErrorCause(&Failure{Name: "F", Cause: "plain"}); got != "plain" {
		t.Errorf("ErrorCause(Failure) = %s", got)
	}
}

func TestRetryBackoff(t *testing.T) {
	a := func() error { return &ErrorA{} }
	tests := []struct {
		name    string
		retry   string
		errs    []error
		calls   int
		sleeps  []time.Duration
		failure string
	}{
		{"defaults: 1s, x2, 3 attempts", `[{"ErrorEquals":["ErrorA"]}]`, []error{a(), a(), a()}, 4, []time.Duration{1e9, 2e9, 4e9}, ""},
		{"exhausted", `[{"ErrorEquals":["ErrorA"],"MaxAttempts":2}]`, []error{a(), a(), a()}, 3, []time.Duration{1e9, 2e9}, "ErrorA"},
		{"max delay", `[{"ErrorEquals":["ErrorA"],"IntervalSeconds":2,"BackoffRate":3,"MaxDelaySeconds":10,"MaxAttempts":4}]`,
			[]error{a(), a(), a(), a()}, 5, []time.Duration{2e9, 6e9, 10e9, 10e9}, ""},
		{"fractional backoff", `[{"ErrorEquals":["ErrorA"],"IntervalSeconds":3,"BackoffRate":1.5,"MaxAttempts":2}]`,
			[]error{a(), a()}, 3, []time.Duration{3e9, 4500e6}, ""},
		{"zero attempts", `[{"ErrorEquals":["ErrorA"],"MaxAttempts":0}]`, []error{a()}, 1, nil, "ErrorA"},
		{"no match", `[{"ErrorEquals":["Other"]}]`, []error{a()}, 1, nil, "ErrorA"},
		{"task failed wildcard", `[{"ErrorEquals":["States.TaskFailed"],"MaxAttempts":1}]`, []error{ErrorB{}}, 2, []time.Duration{1e9}, ""},
		{"all wildcard", `[{"ErrorEquals":["Other"]},{"ErrorEquals":["States.ALL"],"IntervalSeconds":5,"MaxAttempts":1}]`, []error{ErrorB{}}, 2, []time.Duration{5e9}, ""},
		// The spec's example: ErrorA, ErrorB, ErrorC, ErrorB: the fourth error
		// matches the first retrier, which has used its two attempts.
		{"counts per retrier", `[{"ErrorEquals":["ErrorA","ErrorB"],"IntervalSeconds":1,"BackoffRate":2,"MaxAttempts":2},{"ErrorEquals":["ErrorC"],"IntervalSeconds":5}]`,
			[]error{a(), ErrorB{}, named{"ErrorC"}, ErrorB{}, ErrorB{}}, 4, []time.Duration{1e9, 2e9, 5e9}, "ErrorB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","Retry":` + tt.retry + `,"End":true}}}`
			inv := &scriptedInvoker{errs: tt.errs}
			clock := newFakeClock()
			_, err := runDef(t, def, `{}`, Options{Invoker: inv, Clock: clock})
			if failureName(err) != tt.failure {
				t.Fatalf("err %v, want failure %q", err, tt.failure)
			}
			if inv.calls != tt.calls {
				t.Errorf("calls %d, want %d", inv.calls, tt.calls)
			}
			if got := clock.slept(); fmt.Sprint(got) != fmt.Sprint(tt.sleeps) {
				t.Errorf("sleeps %v, want %v", got, tt.sleeps)
			}
		})
	}
}

func TestRetryJitterAndWaitModes(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":10,"MaxAttempts":3,"JitterStrategy":"FULL"}],"End":true}}}`
	run := func(seed uint64, wait WaitMode) []time.Duration {
		clock := newFakeClock()
		inv := &scriptedInvoker{errs: []error{&ErrorA{}, &ErrorA{}, &ErrorA{}}}
		if _, err := runDef(t, def, `{}`, Options{Invoker: inv, Clock: clock, Seed: seed, Wait: wait}); err != nil {
			t.Fatal(err)
		}
		return clock.slept()
	}
	a, b, c := run(1, WaitReal), run(1, WaitReal), run(2, WaitReal)
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("jitter: %v %v %v; want equal for equal seeds", a, b, c)
	}
	for i, d := range a {
		if max := 10 * time.Second << i; d < 0 || d > max {
			t.Errorf("jittered delay %d = %v, want within [0, %v]", i, d, max)
		}
	}
	if s := run(1, WaitSkip); len(s) != 0 {
		t.Errorf("skip mode slept %v", s)
	}
	if s := run(1, WaitScale(1000)); len(s) != 3 || s[0] != a[0]/1000 {
		t.Errorf("scale mode slept %v, want %v/1000", s, a)
	}
}

func TestRetryCountInContext(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","Parameters":{"n.$":"$$.State.RetryCount"},"Retry":[{"ErrorEquals":["States.ALL"]}],"End":true}}}`
	inv := &scriptedInvoker{errs: []error{&ErrorA{}, &ErrorA{}}}
	out, err := runDef(t, def, `{}`, Options{Invoker: inv})
	if err != nil || out != `{"n":2}` {
		t.Fatalf("output %s, %v; want {\"n\":2}", out, err)
	}
}

func TestCatch(t *testing.T) {
	tests := []struct {
		name, catch, want, failure string
		err                        error
	}{
		{"result path", `[{"ErrorEquals":["ErrorA"],"ResultPath":"$.err","Next":"R"}]`, `{"in":1,"err":{"Error":"ErrorA","Cause":"{\"errorMessage\":\"a\",\"errorType\":\"ErrorA\"}"}}`, "", &ErrorA{}},
		{"default result path replaces", `[{"ErrorEquals":["States.ALL"],"Next":"R"}]`, `{"Error":"F","Cause":"c"}`, "", &Failure{Name: "F", Cause: "c"}},
		{"null result path keeps input", `[{"ErrorEquals":["States.ALL"],"ResultPath":null,"Next":"R"}]`, `{"in":1}`, "", &ErrorA{}},
		{"first matching catcher", `[{"ErrorEquals":["X"],"Next":"Bad"},{"ErrorEquals":["F","Y"],"ResultPath":"$.e","Next":"R"},{"ErrorEquals":["States.ALL"],"Next":"Bad"}]`, `{"in":1,"e":{"Error":"F","Cause":"c"}}`, "", &Failure{Name: "F", Cause: "c"}},
		{"no catcher matches", `[{"ErrorEquals":["X"],"Next":"R"}]`, "", "ErrorA", &ErrorA{}},
		{"ALL does not catch States.Runtime", `[{"ErrorEquals":["States.ALL"],"Next":"R"}]`, "", ErrRuntime, &Failure{Name: ErrRuntime, Cause: "x"}},
		{"TaskFailed does not catch States.Timeout", `[{"ErrorEquals":["States.TaskFailed"],"Next":"R"}]`, "", ErrTimeout, &Failure{Name: ErrTimeout}},
		{"Timeout by name", `[{"ErrorEquals":["States.Timeout"],"ResultPath":null,"Next":"R"}]`, `{"in":1}`, "", &Failure{Name: ErrTimeout}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := ""
			if strings.Contains(tt.catch, `"Bad"`) {
				bad = `,"Bad":{"Type":"Fail","Error":"WrongCatcher"}`
			}
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","Catch":` + tt.catch + `,"End":true},
			  "R":{"Type":"Pass","End":true}` + bad + `}}`
			out, err := runDef(t, def, `{"in":1}`, Options{Invoker: &scriptedInvoker{errs: []error{tt.err}}})
			if tt.failure != "" {
				if failureName(err) != tt.failure {
					t.Fatalf("err %v, want %s", err, tt.failure)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(t, out, tt.want) {
				t.Errorf("output %s, want %s", out, tt.want)
			}
		})
	}
}

func TestRuntimeFailureNamesTheState(t *testing.T) {
	_, err := runDef(t, `{"StartAt":"Shape","States":{"Shape":{"Type":"Pass","InputPath":"$.x","End":true}}}`, `{}`, Options{})
	if f, ok := err.(*Failure); !ok || !strings.Contains(f.Cause, `"Shape"`) || !strings.Contains(f.Cause, "$.x") {
		t.Fatalf("err %v: want a States.Runtime cause naming the state and path", err)
	}
}

func TestTimeouts(t *testing.T) {
	old := timeoutUnit
	timeoutUnit = 20 * time.Millisecond
	defer func() { timeoutUnit = old }()
	block := InvokerFunc(func(ctx context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ignore := InvokerFunc(func(ctx context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
		time.Sleep(time.Second)
		return in, nil
	})
	tests := []struct {
		name, def string
		inv       Invoker
		failure   string
		out       string
	}{
		{"task timeout", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","TimeoutSeconds":1,"End":true}}}`, block, ErrTimeout, ""},
		{"task timeout when the invoker ignores ctx", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","TimeoutSeconds":1,"End":true}}}`, ignore, ErrTimeout, ""},
		{"task timeout path", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","TimeoutSecondsPath":"$.t","End":true}}}`, block, ErrTimeout, ""},
		{"timeout caught", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","TimeoutSeconds":1,
		  "Catch":[{"ErrorEquals":["States.Timeout"],"Next":"R"}],"End":true},"R":{"Type":"Pass","Parameters":{"e.$":"$.Error"},"End":true}}}`, block, "", `{"e":"States.Timeout"}`},
		{"timeout retried", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","TimeoutSeconds":1,
		  "Retry":[{"ErrorEquals":["States.Timeout"],"MaxAttempts":1}],"End":true}}}`, block, ErrTimeout, ""},
		{"execution timeout", `{"TimeoutSeconds":1,"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","End":true}}}`, block, ErrTimeout, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			out, err := runDef(t, tt.def, `{"t":1}`, Options{Invoker: tt.inv, Wait: WaitSkip})
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Errorf("took %v", el)
			}
			if tt.failure != "" {
				if failureName(err) != tt.failure {
					t.Fatalf("err %v, want %s", err, tt.failure)
				}
				return
			}
			if err != nil || !sameJSON(t, out, tt.out) {
				t.Fatalf("output %s, %v; want %s", out, err, tt.out)
			}
		})
	}
}

func TestCancellation(t *testing.T) {
	tests := []struct {
		name, def string
		inv       Invoker
	}{
		{"during a wait", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}}`, echo},
		{"during a retry delay", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":3600}],"End":true}}}`,
			InvokerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) { return nil, &ErrorA{} })},
		{"during a task that ignores ctx", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","End":true}}}`,
			InvokerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
				time.Sleep(2 * time.Second)
				return nil, nil
			})},
		{"inside map iterations", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":3600,"End":true}}},"End":true}}}`, echo},
		{"task error caused by cancellation is not caught", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:r","Catch":[{"ErrorEquals":["States.ALL"],"Next":"R"}],"End":true},"R":{"Type":"Succeed"}}}`,
			InvokerFunc(func(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var events []EventType
			time.AfterFunc(30*time.Millisecond, cancel)
			start := time.Now()
			_, err := Run(ctx, []byte(tt.def), []byte(`[1,2,3]`), Options{Invoker: tt.inv, Listener: func(e Event) { events = append(events, e.Type) }})
			if el := time.Since(start); el > 500*time.Millisecond {
				t.Errorf("cancellation took %v", el)
			}
			if !errors.Is(err, ErrAborted) || !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v, want ErrAborted wrapping context.Canceled", err)
			}
			if last := events[len(events)-1]; last != ExecutionAborted {
				t.Errorf("last event %s, want %s", last, ExecutionAborted)
			}
		})
	}
}

func TestWaitState(t *testing.T) {
	tests := []struct {
		name, state, input string
		mode               WaitMode
		sleeps             []time.Duration
		failure            string
	}{
		{"seconds", `"Seconds":10`, `{}`, WaitReal, []time.Duration{10 * time.Second}, ""},
		{"seconds path", `"SecondsPath":"$.d"`, `{"d":90}`, WaitReal, []time.Duration{90 * time.Second}, ""},
		{"timestamp", `"Timestamp":"2026-03-01T12:01:00Z"`, `{}`, WaitReal, []time.Duration{time.Minute}, ""},
		{"timestamp path with offset", `"TimestampPath":"$.t"`, `{"t":"2026-03-01T14:00:30+02:00"}`, WaitReal, []time.Duration{30 * time.Second}, ""},
		{"past timestamp", `"Timestamp":"2020-01-01T00:00:00Z"`, `{}`, WaitReal, nil, ""},
		{"scaled", `"Seconds":10`, `{}`, WaitScale(10), []time.Duration{time.Second}, ""},
		{"skipped", `"Seconds":10`, `{}`, WaitSkip, nil, ""},
		{"seconds path not an integer", `"SecondsPath":"$.d"`, `{"d":"soon"}`, WaitReal, nil, ErrRuntime},
		{"seconds path negative", `"SecondsPath":"$.d"`, `{"d":-1}`, WaitReal, nil, ErrRuntime},
		{"bad timestamp path", `"TimestampPath":"$.t"`, `{"t":"tomorrow"}`, WaitReal, nil, ErrRuntime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			def := `{"StartAt":"W","States":{"W":{"Type":"Wait",` + tt.state + `,"End":true}}}`
			out, err := runDef(t, def, tt.input, Options{Clock: clock, Wait: tt.mode})
			if failureName(err) != tt.failure {
				t.Fatalf("err %v, want %q", err, tt.failure)
			}
			if tt.failure == "" && !sameJSON(t, out, tt.input) {
				t.Errorf("output %s, want the input", out)
			}
			if got := clock.slept(); fmt.Sprint(got) != fmt.Sprint(tt.sleeps) {
				t.Errorf("sleeps %v, want %v", got, tt.sleeps)
			}
		})
	}
}

func TestParseWaitMode(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration // Apply(10s)
		err  bool
	}{
		{"", 10 * time.Second, false}, {"real", 10 * time.Second, false}, {"skip", 0, false},
		{"scale=10", time.Second, false}, {"scale=0.5", 20 * time.Second, false},
		{"scale=0", 0, true}, {"scale=x", 0, true}, {"fast", 0, true},
	}
	for _, tt := range tests {
		m, err := ParseWaitMode(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseWaitMode(%q): err %v", tt.in, err)
			continue
		}
		if err == nil {
			if got := m.Apply(10 * time.Second); got != tt.want {
				t.Errorf("ParseWaitMode(%q).Apply(10s) = %v, want %v", tt.in, got, tt.want)
			}
			if back, _ := ParseWaitMode(m.String()); back != m {
				t.Errorf("String round trip of %q: %q", tt.in, m.String())
			}
		}
	}
}

// TestRuntimeErrorsHoldNoData: a States.Runtime cause describes the data by
// its shape, never its values (a run's reason reaches API callers, and state
// data holds parameters).
func TestRuntimeErrorsHoldNoData(t *testing.T) {
	const secret = "bob.private@corp.example"
	in := `{"params":{"email":"` + secret + `"},"at":"` + secret + `","n":"` + secret + `"}`
	for _, def := range []string{
		passMachine(`"Parameters":{"x.$":"$.nope"}`),
		`{"StartAt":"W","States":{"W":{"Type":"Wait","TimestampPath":"$.at","End":true}}}`,
		`{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.n","End":true}}}`,
	} {
		_, err := Run(context.Background(), []byte(def), json.RawMessage(in), Options{})
		var f *Failure
		if !errors.As(err, &f) || f.Name != ErrRuntime {
			t.Fatalf("%s: %v, want %s", def, err, ErrRuntime)
		}
		if strings.Contains(f.Cause, secret) || strings.Contains(f.Cause, "bob") {
			t.Errorf("the cause holds the data: %s", f.Cause)
		}
	}
}
