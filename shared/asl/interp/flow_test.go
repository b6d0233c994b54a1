package interp

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParallel(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Parameters":{"v.$":"$.v"},"Branches":[
	  {"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"a.$":"$.v"},"End":true}}},
	  {"StartAt":"B","States":{"B":{"Type":"Task","Resource":"arn:b","ResultPath":"$.b","End":true}}}],
	  "ResultSelector":{"first.$":"$[0].a","all.$":"$"},"ResultPath":"$.res","End":true}}}`
	out, err := runDef(t, def, `{"v":5,"other":1}`, Options{})
	want := `{"v":5,"other":1,"res":{"first":5,"all":[{"a":5},{"v":5,"b":{"v":5}}]}}`
	if err != nil || !sameJSON(t, out, want) {
		t.Fatalf("output %s, %v; want %s", out, err, want)
	}
}

func TestParallelFailureCancelsSiblingsAndIsCaught(t *testing.T) {
	var cancelled atomic.Bool
	var slowStarted chan struct{}
	inv := InvokerFunc(func(ctx context.Context, res string, in json.RawMessage) (json.RawMessage, error) {
		if strings.HasSuffix(res, "fail") {
			// Fail once the slow sibling runs: a branch cancelled before
			// its task starts has nothing to observe.
			select {
			case <-slowStarted:
			case <-time.After(20 * time.Second):
			}
			return nil, &Failure{Name: "Broken", Cause: "branch 1"}
		}
		close(slowStarted)
		select {
		case <-ctx.Done():
			cancelled.Store(true)
			return nil, ctx.Err()
		case <-time.After(time.Minute): // far beyond any machine's slowness
			return in, nil
		}
	})
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[
	  {"StartAt":"Slow","States":{"Slow":{"Type":"Task","Resource":"arn:slow","End":true}}},
	  {"StartAt":"Bad","States":{"Bad":{"Type":"Task","Resource":"arn:fail","End":true}}}],
	  "Catch":[{"ErrorEquals":["Broken"],"ResultPath":"$.err","Next":"R"}],"End":true},"R":{"Type":"Pass","End":true}}}`
	slowStarted = make(chan struct{})
	start := time.Now()
	out, err := runDef(t, def, `{}`, Options{Invoker: inv})
	if err != nil || !sameJSON(t, out, `{"err":{"Error":"Broken","Cause":"branch 1"}}`) {
		t.Fatalf("output %s, %v", out, err)
	}
	// The invoker runs aside; let it see ctx. Without cancellation the slow
	// sibling takes a minute, so 20 s tells the two apart on a loaded machine.
	for time.Since(start) < 20*time.Second && !cancelled.Load() {
		time.Sleep(5 * time.Millisecond)
	}
	if !cancelled.Load() {
		t.Errorf("the slow sibling was not cancelled within 20 s")
	}
	// Uncaught, the branch's error fails the execution.
	def = strings.Replace(def, `"Catch":[{"ErrorEquals":["Broken"],"ResultPath":"$.err","Next":"R"}],"End":true},"R":{"Type":"Pass","End":true}`, `"End":true}`, 1)
	slowStarted = make(chan struct{})
	if _, err := runDef(t, def, `{}`, Options{Invoker: inv}); failureName(err) != "Broken" {
		t.Fatalf("err %v, want Broken", err)
	}
}

// concurrencyProbe records the most Task invocations in flight at once.
type concurrencyProbe struct {
	mu        sync.Mutex
	cur, peak int
}

func (p *concurrencyProbe) Invoke(_ context.Context, _ string, in json.RawMessage) (json.RawMessage, error) {
	p.mu.Lock()
	p.cur++
	p.peak = max(p.peak, p.cur)
	p.mu.Unlock()
	time.Sleep(15 * time.Millisecond)
	p.mu.Lock()
	p.cur--
	p.mu.Unlock()
	return in, nil
}

func TestMapMaxConcurrency(t *testing.T) {
	items := make([]string, 12)
	for i := range items {
		items[i] = fmt.Sprint(i)
	}
	input := `{"items":[` + strings.Join(items, ",") + `]}`
	tests := []struct {
		field string
		want  int
	}{
		{`"MaxConcurrency":1`, 1},
		{`"MaxConcurrency":3`, 3},
		{`"MaxConcurrencyPath":"$.limit"`, 4},
		{`"MaxConcurrency":0`, 12},
		{`"Comment":"unbounded"`, 12},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			def := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",` + tt.field + `,
			  "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:t","End":true}}},"End":true}}}`
			probe := &concurrencyProbe{}
			in := strings.Replace(input, "{", `{"limit":4,`, 1)
			out, err := runDef(t, def, in, Options{Invoker: probe})
			if err != nil || !sameJSON(t, out, `[`+strings.Join(items, ",")+`]`) {
				t.Fatalf("output %s, %v", out, err)
			}
			if probe.peak != tt.want {
				t.Errorf("peak concurrency %d, want %d", probe.peak, tt.want)
			}
		})
	}
}

func TestMapSelectorsAndFailure(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","InputPath":"$.in","ItemsPath":"$.xs",
	  "ItemSelector":{"i.$":"$$.Map.Item.Index","v.$":"$$.Map.Item.Value","k.$":"$.k","s":"static"},
	  "ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},
	  "ResultSelector":{"n.$":"States.ArrayLength($)","items.$":"$"},"ResultPath":"$.in.out","OutputPath":"$.in","End":true}}}`
	out, err := runDef(t, def, `{"in":{"k":"K","xs":["a","b"]}}`, Options{})
	want := `{"k":"K","xs":["a","b"],"out":{"n":2,"items":[{"i":0,"v":"a","k":"K","s":"static"},{"i":1,"v":"b","k":"K","s":"static"}]}}`
	if err != nil || !sameJSON(t, out, want) {
		t.Fatalf("output %s, %v; want %s", out, err, want)
	}
	fail := `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"StartAt":"C","States":{
	  "C":{"Type":"Choice","Choices":[{"Variable":"$","NumericEquals":3,"Next":"F"}],"Default":"OK"},
	  "F":{"Type":"Fail","Error":"Three"},"OK":{"Type":"Succeed"}}},
	  "Retry":[{"ErrorEquals":["Three"],"MaxAttempts":1}],"End":true}}}`
	clock := newFakeClock()
	if _, err := runDef(t, fail, `[1,2,3,4]`, Options{Clock: clock}); failureName(err) != "Three" {
		t.Fatalf("err %v, want Three", err)
	}
	if s := clock.slept(); len(s) != 1 {
		t.Errorf("the Map was retried %d times, want 1", len(s))
	}
}

func TestListenerEvents(t *testing.T) {
	def := `{"StartAt":"T","States":{
	  "T":{"Type":"Task","Resource":"arn:t","Retry":[{"ErrorEquals":["ErrorA"],"IntervalSeconds":3}],
	    "Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.e","Next":"P"}],"Next":"P"},
	  "P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Map","ItemsPath":"$.xs","ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Pass","End":true}}},"End":true}}}],"End":true}}}`
	var (
		mu   sync.Mutex
		got  []string
		outs = map[string]string{}
	)
	inv := &scriptedInvoker{errs: []error{&ErrorA{}, &Failure{Name: "Other", Cause: "c"}}}
	_, err := runDef(t, def, `{"xs":[1]}`, Options{Invoker: inv, Listener: func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		s := string(e.Type)
		if e.State != "" {
			s += " " + Path(e.Path).String() + ":" + e.State
		}
		if e.Type == StateRetried {
			s += fmt.Sprintf(" #%d %s %v", e.Attempt, e.Error, e.Delay)
		}
		if e.Type == StateCaught || e.Type == StateFailed {
			s += " " + e.Error + " ->" + e.Next
		}
		got = append(got, s)
		if e.Type == StateExited {
			outs[e.Path.String()+":"+e.State] = string(e.Output)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"ExecutionStarted",
		"StateEntered :T",
		"StateFailed :T ErrorA ->",
		"StateRetried :T #1 ErrorA 3s",
		"StateFailed :T Other ->",
		"StateCaught :T Other ->P",
		"StateExited :T",
		"StateEntered :P",
		"StateEntered P[0]:B",
		"StateEntered P[0]/B#0:I",
		"StateExited P[0]/B#0:I",
		"StateExited P[0]:B",
		"StateExited :P",
		"ExecutionSucceeded",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !sameJSON(t, outs[":T"], `{"xs":[1],"e":{"Error":"Other","Cause":"c"}}`) || outs["P[0]/B#0:I"] != "1" {
		t.Errorf("exited outputs %v", outs)
	}
}

func TestConcurrentExecutionsShareAMachine(t *testing.T) {
	m, err := Compile([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","ItemSelector":{"v.$":"$$.Map.Item.Value","id.$":"$$.Execution.Name"},
	  "ItemProcessor":{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:t","ResultPath":"$.r","End":true}}},"End":true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprint("e", i)
			out, err := m.Run(context.Background(), json.RawMessage(`[1,2,3]`), Options{Invoker: echo, ExecutionName: name, Listener: func(Event) {}})
			want := fmt.Sprintf(`[{"v":1,"id":%[1]q,"r":{"v":1,"id":%[1]q}},{"v":2,"id":%[1]q,"r":{"v":2,"id":%[1]q}},{"v":3,"id":%[1]q,"r":{"v":3,"id":%[1]q}}]`, name)
			if err != nil || !sameJSON(t, string(out), want) {
				t.Errorf("%s: %s, %v", name, out, err)
			}
		}()
	}
	wg.Wait()
}

func TestDefinitionErrors(t *testing.T) {
	tests := []struct{ name, def, msg string }{
		{"not JSON", `{`, "invalid JSON"},
		{"jsonata top level", `{"QueryLanguage":"JSONata","StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "JSONata"},
		{"jsonata state", `{"StartAt":"P","States":{"P":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}}`, "JSONata"},
		{"jsonpath is fine", `{"QueryLanguage":"JSONPath","StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, ""},
		{"assign", `{"StartAt":"P","States":{"P":{"Type":"Pass","Assign":{"x":1},"End":true}}}`, "Assign"},
		{"arguments", `{"StartAt":"P","States":{"P":{"Type":"Task","Resource":"arn:r","Arguments":{},"End":true}}}`, "JSONata"},
		{"item reader", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemReader":{},"ItemProcessor":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}},"End":true}}}`, "ItemReader"},
		{"distributed", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"I","States":{"I":{"Type":"Succeed"}}},"End":true}}}`, "DISTRIBUTED"},
		{"unknown field", `{"StartAt":"P","States":{"P":{"Type":"Pass","Resource":"x","End":true}}}`, `unknown field "Resource"`},
		{"unknown type", `{"StartAt":"P","States":{"P":{"Type":"Lambda","End":true}}}`, "unknown state Type"},
		{"no next or end", `{"StartAt":"P","States":{"P":{"Type":"Pass"}}}`, "Next and End"},
		{"next and end", `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"P","End":true}}}`, "Next and End"},
		{"missing target", `{"StartAt":"P","States":{"P":{"Type":"Pass","Next":"Q"}}}`, `"Q"`},
		{"missing start", `{"StartAt":"X","States":{"P":{"Type":"Pass","End":true}}}`, "StartAt"},
		{"unreachable", `{"StartAt":"P","States":{"P":{"Type":"Pass","End":true},"Q":{"Type":"Pass","End":true}}}`, "not reachable"},
		{"cross-scope transition", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"B","States":{"B":{"Type":"Pass","Next":"Q"}}}],"Next":"Q"},"Q":{"Type":"Succeed"}}}`, `"Q"`},
		{"duplicate names", `{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"P","States":{"P":{"Type":"Succeed"}}}],"End":true}}}`, "duplicate"},
		{"ALL not alone", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["States.ALL","X"]}],"End":true}}}`, "alone"},
		{"ALL not last", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Catch":[{"ErrorEquals":["States.ALL"],"Next":"T"},{"ErrorEquals":["X"],"Next":"T"}],"End":true}}}`, "last"},
		{"bad backoff", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["X"],"BackoffRate":0.5}],"End":true}}}`, "BackoffRate"},
		{"bad jitter", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","Retry":[{"ErrorEquals":["X"],"JitterStrategy":"HALF"}],"End":true}}}`, "JitterStrategy"},
		{"bad path", `{"StartAt":"P","States":{"P":{"Type":"Pass","InputPath":"a.b","End":true}}}`, "InputPath"},
		{"bad result path", `{"StartAt":"P","States":{"P":{"Type":"Pass","ResultPath":"$.a[*]","End":true}}}`, "ResultPath"},
		{"bad intrinsic", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":"States.Nope()"},"End":true}}}`, "unknown function"},
		{"non-string dynamic field", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"x.$":1},"End":true}}}`, "x.$"},
		{"two wait fields", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"SecondsPath":"$.s","End":true}}}`, "exactly one"},
		{"wait without field", `{"StartAt":"W","States":{"W":{"Type":"Wait","End":true}}}`, "exactly one"},
		{"task without resource", `{"StartAt":"T","States":{"T":{"Type":"Task","End":true}}}`, "Resource"},
		{"map without processor", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true}}}`, "ItemProcessor"},
		{"map selector and parameters", `{"StartAt":"M","States":{"M":{"Type":"Map","ItemSelector":{},"Parameters":{},"Iterator":{"StartAt":"I","States":{"I":{"Type":"Succeed"}}},"End":true}}}`, "mutually exclusive"},
		{"fail error and path", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"x","ErrorPath":"$.e"}}}`, "mutually exclusive"},
		{"execution timeout", `{"TimeoutSeconds":0,"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}`, "TimeoutSeconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile([]byte(tt.def))
			if tt.msg == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if _, ok := err.(*DefinitionError); !ok || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err %v, want a DefinitionError mentioning %q", err, tt.msg)
			}
		})
	}
}

func TestNoInvoker(t *testing.T) {
	_, err := Run(context.Background(), []byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"r","End":true}}}`), nil, Options{})
	if failureName(err) != ErrRuntime {
		t.Fatalf("err %v, want %s", err, ErrRuntime)
	}
}
