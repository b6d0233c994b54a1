package channel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// cust is one row of the test population.
type cust struct {
	ID, Name, Email, Phone, Push, Tier string
	EmailOK, SMSOK                     *bool
	TZ                                 string
}

var (
	yes = func() *bool { b := true; return &b }()
	no  = func() *bool { b := false; return &b }()
)

// clock is a settable clock; Sleep advances it.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		c.Add(d)
	}
	return ctx.Err()
}

// harness runs channel phases in-process against a memory state store, a
// folder blob store and an outbox.
type harness struct {
	t      testing.TB
	p      *compile.Program
	env    *activity.Env
	deps   *channel.Deps
	reg    *activity.Registry
	plans  *runner.Plans
	store  *memStore
	outbox *outbox.Outbox
	clock  *clock
	opts   *channel.Options
	dir    string
}

var testSecret = []byte("0123456789abcdef0123456789abcdef")

func compileTest(t testing.TB, file string) *compile.Program {
	t.Helper()
	p, diags := builtin.CompileFiles(file, "testdata/catalog.yaml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func newHarness(t testing.TB) *harness {
	return newHarnessFor(t, compileTest(t, "testdata/campaign.yaml"))
}

func newHarnessFor(t testing.TB, p *compile.Program) *harness {
	t.Helper()
	dir := tmpfsDir(t)
	bs, err := folderblob.New(filepath.Join(dir, "blob"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, p: p, store: newMemStore(), dir: dir,
		outbox: outbox.New(filepath.Join(dir, "outbox")),
		clock:  &clock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}}
	h.opts = &channel.Options{Lease: time.Minute, Sleep: h.clock.Sleep, Workers: 4}
	h.env = &activity.Env{WorkDir: filepath.Join(dir, "work"), Clock: h.clock.Now}
	fam := builtin.NewFamilies(builtin.Host{Blob: bs, Sender: h.outbox, Channel: h.opts,
		Links: channel.SignedLinks{BaseURL: "https://api.shop.example", Secret: testSecret, Mailto: "unsubscribe@shop.example"}})
	h.deps = &fam.Channel
	h.setState(h.store)
	h.reg = builtin.Bind(fam)
	h.plans = &runner.Plans{Blob: bs, Registry: h.reg}
	if err := (&compile.Publisher{Blob: bs}).Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(h.env.WorkDir, 0o755)
	t.Cleanup(func() {
		h.outbox.Close()
		h.env.Close()
	})
	return h
}

// setState makes st the state store of the channel tasks, with the parts
// it has.
func (h *harness) setState(st any) {
	h.deps.Ledger, _ = st.(channel.Ledger)
	h.deps.Caps, _ = st.(channel.Caps)
	h.deps.Keys, _ = st.(channel.Keys)
	h.deps.Suppressions, _ = st.(channel.Suppressions)
}

// do runs a request's task as the runner does: the plan loaded from the
// blob store and checked.
func (h *harness) do(ctx context.Context, req *activity.Request) (*activity.Result, error) {
	comp, err := h.plans.Load(ctx, req.Campaign, req.Plan)
	if err != nil {
		return nil, err
	}
	a, cfg, ok := comp.Config(req.Activity)
	if !ok {
		return nil, fmt.Errorf("no activity %s", req.Activity)
	}
	spec, _ := h.reg.Lookup(a.Type)
	return spec.Run(ctx, &activity.Call{Env: h.env, Req: req, Plan: comp, Activity: a}, cfg)
}

func (h *harness) engine() *dataset.Engine {
	e, err := h.deps.Data.EngineOf(h.env)
	if err != nil {
		h.t.Fatal(err)
	}
	return e
}

// population writes rows as the output of `everyone` in run and returns the input.
func (h *harness) population(run string, rows []cust) activity.Input {
	h.t.Helper()
	f := filepath.Join(h.env.WorkDir, fmt.Sprintf("pop-%s.jsonl", run))
	w, err := os.Create(f)
	if err != nil {
		h.t.Fatal(err)
	}
	enc := json.NewEncoder(w)
	for _, c := range rows {
		enc.Encode(map[string]any{"customerId": c.ID, "firstName": c.Name, "email": nullable(c.Email), "phone": nullable(c.Phone),
			"pushToken": nullable(c.Push), "tier": nullable(c.Tier), "emailOptIn": c.EmailOK, "smsOptIn": c.SMSOK, "timezone": nullable(c.TZ)})
	}
	w.Close()
	ref := dataset.PortRef(run, "everyone", "out")
	q := "SELECT * FROM read_json(" + dataset.QuoteLiteral(f) + ", format = 'newline_delimited', columns = {customerId: 'VARCHAR', firstName: 'VARCHAR', " +
		"email: 'VARCHAR', phone: 'VARCHAR', pushToken: 'VARCHAR', tier: 'VARCHAR', emailOptIn: 'BOOLEAN', smsOptIn: 'BOOLEAN', timezone: 'VARCHAR'})"
	if len(rows) == 0 {
		q = "SELECT 'x' AS customerId, 'x' AS firstName, 'x' AS email, 'x' AS phone, 'x' AS pushToken, 'x' AS tier, true AS emailOptIn, true AS smsOptIn, 'x' AS timezone WHERE false"
	}
	m, err := h.engine().Write(context.Background(), dataset.Output{Ref: ref, Dimension: "customers", Key: []string{"customerId"}}, q)
	if err != nil {
		h.t.Fatal(err)
	}
	s := string(ref)
	return activity.Input{From: "everyone", Port: "out", Ref: &s, Count: m.Rows}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (h *harness) request(act, run string, test bool, in activity.Input, phase string) *activity.Request {
	return &activity.Request{Campaign: h.p.Campaign.ID, Plan: h.p.Bundle.Digest, Activity: act, Phase: phase,
		Run:    activity.RunInfo{ID: run, Test: test, Params: map[string]any{"discount": int64(15)}, Now: h.clock.Now().Format(time.RFC3339Nano)},
		Inputs: []activity.Input{in}}
}

// plan runs the plan phase.
func (h *harness) plan(act, run string, test bool, in activity.Input) *activity.Result {
	h.t.Helper()
	res, err := h.do(context.Background(), h.request(act, run, test, in, channel.PhasePlan))
	if err != nil {
		h.t.Fatalf("plan %s: %v", act, err)
	}
	return res
}

// slices flattens the slices of a plan result (waves included).
func slices(res *activity.Result) []activity.Slice {
	out := append([]activity.Slice(nil), res.Slices...)
	if ws, ok := res.Extra["waves"]; ok {
		b, _ := json.Marshal(ws)
		var waves []channel.Wave
		json.Unmarshal(b, &waves)
		for _, w := range waves {
			out = append(out, w.Slices...)
		}
	}
	return out
}

func (h *harness) send(ctx context.Context, act, run string, test bool, in activity.Input, sl activity.Slice) (*activity.Result, error) {
	req := h.request(act, run, test, in, channel.PhaseSend)
	req.Slice = &sl
	return h.do(ctx, req)
}

func (h *harness) finish(act, run string, test bool, in activity.Input) (*activity.Result, error) {
	return h.do(context.Background(), h.request(act, run, test, in, channel.PhaseFinish))
}

// run runs plan, every slice and finish.
func (h *harness) run(act, run string, test bool, in activity.Input) *activity.Result {
	h.t.Helper()
	res := h.plan(act, run, test, in)
	for _, sl := range slices(res) {
		if _, err := h.send(context.Background(), act, run, test, in, sl); err != nil {
			h.t.Fatalf("send %s slice %d: %v", act, sl.Index, err)
		}
	}
	fin, err := h.finish(act, run, test, in)
	if err != nil {
		h.t.Fatalf("finish %s: %v", act, err)
	}
	return fin
}

// rows reads a port's dataset as maps.
func (h *harness) rows(res *activity.Result, port string) []map[string]any {
	h.t.Helper()
	ref := res.Ports[port]
	if ref == nil {
		h.t.Fatalf("port %s not activated", port)
	}
	var out []map[string]any
	_, err := h.engine().Stream(context.Background(), dataset.Ref(*ref), dataset.StreamOptions{}, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			m := map[string]any{}
			for i, c := range b.Columns {
				m[c.Name] = r[i]
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// byID maps customerId to a column of rows.
func byID(rows []map[string]any, col string) map[string]string {
	out := map[string]string{}
	for _, r := range rows {
		v, _ := r[col].(string)
		out[r["customerId"].(string)] = v
	}
	return out
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sentTo lists the recipients of a run's activity in the outbox, sorted,
// duplicates kept.
func (h *harness) sentTo(run, act string) []string {
	h.t.Helper()
	recs, err := outbox.ReadFile(outbox.Path(h.outbox.Dir(), run, act))
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Tags["recipient"])
	}
	sort.Strings(out)
	return out
}

// tmpfsDir is a temporary folder on tmpfs when there is one: the blob store
// fsyncs every file, which tests do not need.
func tmpfsDir(t testing.TB) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "stepwise-channel-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return t.TempDir()
}
