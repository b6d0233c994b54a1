package activity_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

type demoConfig struct {
	Name  string   `json:"name"`
	Ports []string `json:"ports,omitempty"`
}

// bare defines a type with nothing but its names: every optional part nil.
func bare(typ, fn string) *activity.Spec {
	return activity.Define(activity.Def[demoConfig]{Type: typ, Family: activity.Flow, Function: fn})
}

// Define erases the config type: NewConfig returns a *C and DecodeConfig
// fills one strictly.
func TestDefineConfig(t *testing.T) {
	s := bare("demo", "")
	if _, ok := s.NewConfig().(*demoConfig); !ok {
		t.Fatalf("NewConfig: %T, want *demoConfig", s.NewConfig())
	}
	cfg, err := s.DecodeConfig([]byte(`{"name":"x","ports":["a","b"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := cfg.(*demoConfig); !ok || got.Name != "x" || !reflect.DeepEqual(got.Ports, []string{"a", "b"}) {
		t.Fatalf("DecodeConfig: %#v", cfg)
	}
	_, err = s.DecodeConfig([]byte(`{"name":"x","extra":1}`))
	if err == nil || !strings.Contains(err.Error(), "demo config") || !strings.Contains(err.Error(), "extra") {
		t.Fatalf("unknown field: %v, want it refused", err)
	}
	if _, err := s.DecodeConfig([]byte(`{"name":1}`)); err == nil {
		t.Fatal("wrong type: decoded")
	}
}

// A definition without its optional parts gets the defaults: one port out,
// no schema, a standard Task, no handler.
func TestDefineDefaults(t *testing.T) {
	s := bare("demo", "")
	cfg := s.NewConfig()
	if got := s.Ports(cfg); !reflect.DeepEqual(got, []string{"out"}) {
		t.Errorf("Ports: %v, want [out]", got)
	}
	s.Check(&activity.Check{}, cfg) // no Check: nothing happens
	if out, ok := s.Output(&activity.Check{}, cfg, nil); ok || out != nil {
		t.Errorf("Output: %v %v, want none", out, ok)
	}
	if ok, err := s.Lower(nil, cfg); ok || err != nil {
		t.Errorf("Lower: %v %v, want a standard Task", ok, err)
	}
	if s.Runs() {
		t.Error("Runs: true without a handler")
	}
	_, err := s.Run(context.Background(), &activity.Call{}, cfg)
	var invalid *activity.InvalidInput
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "demo has no handler") {
		t.Errorf("Run: %T %v, want InvalidInput", err, err)
	}
}

// The parts of a definition receive the config as *C.
func TestDefineParts(t *testing.T) {
	var checked, lowered *demoConfig
	s := activity.Define(activity.Def[demoConfig]{
		Type:  "demo",
		Ports: func(x *demoConfig) []string { return x.Ports },
		Check: func(c *activity.Check, x *demoConfig) { checked = x },
		Output: func(c *activity.Check, x *demoConfig, in []campaign.Schema) map[string]campaign.Schema {
			return map[string]campaign.Schema{x.Ports[0]: in[0]}
		},
		Lower: func(l activity.Lowerer, x *demoConfig) error { lowered = x; return errors.New("lowered " + x.Name) },
		Run: func(ctx context.Context, call *activity.Call, x *demoConfig) (*activity.Result, error) {
			res := activity.NewResult(x.Ports)
			res.Set(x.Ports[0], x.Name, 3)
			return res, nil
		},
	})
	cfg := &demoConfig{Name: "n", Ports: []string{"p", "q"}}
	if got := s.Ports(cfg); !reflect.DeepEqual(got, []string{"p", "q"}) {
		t.Errorf("Ports: %v", got)
	}
	s.Check(&activity.Check{}, cfg)
	if checked != cfg {
		t.Error("Check did not see the config")
	}
	in := campaign.Schema{Dimension: "customers"}
	if out, ok := s.Output(&activity.Check{}, cfg, []campaign.Schema{in}); !ok || out["p"].Dimension != "customers" {
		t.Errorf("Output: %v %v", out, ok)
	}
	if ok, err := s.Lower(nil, cfg); !ok || err == nil || err.Error() != "lowered n" || lowered != cfg {
		t.Errorf("Lower: %v %v", ok, err)
	}
	if !s.Runs() {
		t.Error("Runs: false with a handler")
	}
	res, err := s.Run(context.Background(), &activity.Call{}, cfg)
	if err != nil || *res.Ports["p"] != "n" || res.Counts["p"] != 3 || res.Ports["q"] != nil || res.Status != activity.StatusSucceeded {
		t.Errorf("Run: %+v %v", res, err)
	}
}

// A config of another type than *C is a programming error.
func TestDefineWrongConfigPanics(t *testing.T) {
	s := activity.Define(activity.Def[demoConfig]{Type: "demo", Ports: func(x *demoConfig) []string { return nil }})
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	s.Ports(&struct{}{})
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if msg, _ := r.(string); r == nil || !strings.Contains(msg, want) {
			t.Errorf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

func TestRegistry(t *testing.T) {
	r := activity.NewRegistry()
	a, b, c := bare("zeta", "Zeta"), bare("alpha", ""), bare("mid", "Mid")
	r.Register(a, b)
	r.Register(c)
	if got := r.Types(); !reflect.DeepEqual(got, []string{"alpha", "mid", "zeta"}) {
		t.Errorf("Types: %v, want sorted", got)
	}
	if s, ok := r.Lookup("alpha"); !ok || s != b {
		t.Errorf("Lookup alpha: %v %v", s, ok)
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Error("Lookup nope: found")
	}
	if s, ok := r.ByFunction("Zeta"); !ok || s != a {
		t.Errorf("ByFunction Zeta: %v %v", s, ok)
	}
	if s, ok := r.ByFunction("Mid"); !ok || s != c {
		t.Errorf("ByFunction Mid: %v %v", s, ok)
	}
	if _, ok := r.ByFunction(""); ok {
		t.Error("ByFunction \"\": a type without a function is listed")
	}
	mustPanic(t, `"alpha" registered twice`, func() { r.Register(bare("alpha", "Other")) })
	mustPanic(t, `share function Zeta`, func() { r.Register(bare("omega", "Zeta")) })
	mustPanic(t, `not made by Define`, func() { r.Register(&activity.Spec{Type: "raw"}) })
	if got := r.Types(); len(got) != 3 {
		t.Errorf("Types after refused registrations: %v", got)
	}
}

type closer struct {
	n   int
	err error
}

func (c *closer) Close() error { c.n++; return c.err }

// Shared creates a value once per Env; Close closes the io.Closers once and
// forgets every value.
func TestEnvShared(t *testing.T) {
	e := &activity.Env{WorkDir: "w"}
	created := 0
	c := &closer{err: errors.New("close failed")}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := e.Shared("engine", func() (any, error) { created++; return c, nil })
			if err != nil || v != c {
				t.Errorf("Shared: %v %v", v, err)
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Fatalf("created %d times", created)
	}
	if _, err := e.Shared("bad", func() (any, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("a failed create is not reported")
	}
	if v, err := e.Shared("bad", func() (any, error) { return 7, nil }); err != nil || v != 7 {
		t.Fatalf("a failed create is kept: %v %v", v, err)
	}
	if err := e.Close(); err == nil || !strings.Contains(err.Error(), "close failed") {
		t.Fatalf("Close: %v", err)
	}
	if err := e.Close(); err != nil || c.n != 1 {
		t.Fatalf("second Close: %v, closed %d times", err, c.n)
	}
	// After Close, Shared creates again.
	if _, err := e.Shared("engine", func() (any, error) { created++; return &closer{}, nil }); err != nil || created != 2 {
		t.Fatalf("Shared after Close: created %d, %v", created, err)
	}
}

// Scope keeps the clock but not the folder or the shared values.
func TestEnvScope(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &activity.Env{WorkDir: "a", Clock: func() time.Time { return at }}
	e.Shared("k", func() (any, error) { return 1, nil })
	s := e.Scope("b")
	if s.WorkDir != "b" || !s.Now().Equal(at) {
		t.Fatalf("scope: %q %v", s.WorkDir, s.Now())
	}
	if v, _ := s.Shared("k", func() (any, error) { return 2, nil }); v != 2 {
		t.Fatalf("scope shares its parent's values: %v", v)
	}
	if (&activity.Env{}).Now().IsZero() {
		t.Fatal("Now without a clock is zero")
	}
}

type logLine struct {
	run, activity string
	at            time.Time
	lines         []string
}

type fakeLog struct{ got []logLine }

func (f *fakeLog) AppendTaskLog(_ context.Context, runID, activity string, at time.Time, lines ...string) error {
	f.got = append(f.got, logLine{runID, activity, at, lines})
	return errors.New("logging failed")
}

// Logf writes to the task log with the env's time, ignores log failures and
// does nothing without a log.
func TestCallLogf(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	req := &activity.Request{Activity: "a1", Run: activity.RunInfo{ID: "r1"}}
	env := &activity.Env{Clock: func() time.Time { return at }}
	(&activity.Call{Env: env, Req: req}).Logf(context.Background(), "nothing %d", 1)
	l := &fakeLog{}
	(&activity.Call{Env: env, Req: req, Log: l}).Logf(context.Background(), "hello %s", "world")
	want := []logLine{{"r1", "a1", at, []string{"hello world"}}}
	if !reflect.DeepEqual(l.got, want) {
		t.Fatalf("log %+v, want %+v", l.got, want)
	}
}
