package channel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

func compileE2E(t *testing.T) *compile.Program {
	p, diags := builtin.CompileFiles("testdata/e2e/campaign.yaml", "testdata/e2e/catalog.yaml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

// The lowering of confirm: true and quietHours: the poll loop and the waves.
func TestLowering(t *testing.T) {
	p := compileE2E(t)
	var sm asl.StateMachine
	if err := json.Unmarshal(p.JSON, &sm); err != nil {
		t.Fatal(err)
	}
	var all asl.States
	var walk func(asl.States)
	walk = func(s asl.States) {
		for _, n := range s {
			all = append(all, n)
			for _, b := range n.State.Branches {
				walk(b.States)
			}
			if n.State.ItemProcessor != nil {
				walk(n.State.ItemProcessor.States)
			}
		}
	}
	walk(sm.States)
	get := func(name string) *asl.State {
		st := all.Get(name)
		if st == nil {
			t.Fatalf("no state %q", name)
		}
		return st
	}
	if c := get("mail:held"); c.Type != "Choice" || c.Choices[0].Variable != "$.r.mail.extra.held" || c.Choices[0].Next != "mail:hold" || c.Default != "mail:waves" {
		t.Errorf("mail:held %+v", c)
	}
	if w := get("mail:hold"); w.Type != "Wait" || *w.Seconds != 60 || w.Next != "mail:confirm" {
		t.Errorf("mail:hold %+v", w)
	}
	if c := get("mail:confirm"); c.Type != "Task" || c.Parameters.(map[string]any)["phase"] != "confirm" || c.Next != "mail:held" {
		t.Errorf("mail:confirm %+v", c)
	}
	if m := get("mail:waves"); m.Type != "Map" || m.ItemsPath != "$.r.mail.extra.waves" || m.MaxConcurrency != 1 || m.Next != "mail:finish" {
		t.Errorf("mail:waves %+v", m)
	}
	if w := get("mail:until"); w.Type != "Wait" || w.TimestampPath != "$.at" {
		t.Errorf("mail:until %+v", w)
	}
	if m := get("mail:send"); m.Type != "Map" || m.ItemsPath != "$.slices" || m.MaxConcurrency != 2 {
		t.Errorf("mail:send %+v", m)
	}
	if m := get("text:send"); m.Type != "Map" || m.ItemsPath != "$.r.text.slices" {
		t.Errorf("text:send %+v", m)
	}
	if c := get("text:planned"); c.Type != "Choice" || len(c.Choices) != 1 || c.Choices[0].And[1].Variable != "$.r.text.extra.finished" || c.Default != "text:send" {
		t.Errorf("text:planned %+v", c)
	}
	if p := get("text").Parameters.(map[string]any); p["finish"] != true || get("text").Next != "text:planned" {
		t.Errorf("text: %v", p)
	}
	if p := get("mail").Parameters.(map[string]any); p["finish"] != nil || all.Get("mail:planned") != nil {
		t.Errorf("mail (quiet hours) may finish in its plan: %v", p)
	}
	if all.Get("text:held") != nil || all.Get("text:waves") != nil {
		t.Error("text has a confirm loop or waves")
	}
}

// confirmingInvoker confirms the held send when the poll loop asks, as a
// person running `stepwise confirm` during the hold would.
type confirmingInvoker struct {
	r    *runner.Runner
	home string
}

func (c confirmingInvoker) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	var req struct {
		Phase    string `json:"phase"`
		Activity string `json:"activity"`
		Run      struct {
			ID string `json:"id"`
		} `json:"run"`
	}
	json.Unmarshal(input, &req)
	if req.Phase == channel.PhaseConfirm {
		executor.Send(c.home, req.Run.ID, channel.ConfirmSignal(req.Activity))
	}
	return c.r.Invoke(ctx, resource, input)
}

func openLocal(t *testing.T, p *compile.Program) *executor.Local {
	l, err := executor.Open(tmpfsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	at := time.Date(2026, 6, 1, 19, 30, 0, 0, time.UTC) // 21:30 in Paris: quiet
	l.Env.Clock = func() time.Time { return at }
	if err := l.Bundles.Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
		t.Fatal(err)
	}
	return l
}

// The same campaign, run by the Go interpreter and by aws-local-stepfunctions
// with the real handlers: the same states, the same result, through the
// confirm loop and the quiet-hours waves.
func TestCrossCheckChannels(t *testing.T) {
	p := compileE2E(t)
	def := regexpARN(p.JSON)
	input := json.RawMessage(`{"runId":"0193a5b0-0000-7000-8000-0000000000c1"}`)
	goRes, nodeRes := sfnlocal.CrossCheck(t, def, input, func() interp.Invoker {
		l := openLocal(t, p)
		return confirmingInvoker{r: l.Runner, home: l.Home}
	})
	for _, r := range []sfnlocal.Result{goRes, nodeRes} {
		if r.Error != "" {
			t.Fatalf("execution failed: %s %s", r.Error, r.Cause)
		}
	}
	entered := map[string]bool{}
	for _, s := range goRes.Steps {
		entered[s.State] = true
	}
	for _, s := range []string{"mail:held", "mail:hold", "mail:confirm", "mail:waves", "mail:until", "mail:slice", "mail:finish", "text:slice", "afterMail:planned"} {
		if !entered[s] {
			t.Errorf("state %s not entered", s)
		}
	}
	// afterMail's plan has one slice: its plan task sent it and finished.
	for _, s := range []string{"afterMail:send", "afterMail:slice", "afterMail:finish"} {
		if entered[s] {
			t.Errorf("state %s entered", s)
		}
	}
}

// A live local run: counts on every port, one message per recipient in the
// outbox, the transactional push fed by the email's out port.
func TestLocalRun(t *testing.T) {
	p := compileE2E(t)
	l := openLocal(t, p)
	runID := "0193a5b0-0000-7000-8000-0000000000c2"
	executor.Send(l.Home, runID, channel.ConfirmSignal("mail"))
	sum, err := l.Run(context.Background(), p, executor.Options{RunID: runID, Wait: interp.WaitSkip})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != "succeeded" {
		t.Fatalf("%+v", sum)
	}
	mail, text, push := sum.Activities["mail"].Ports, sum.Activities["text"].Ports, sum.Activities["afterMail"].Ports
	// 40 customers: 4 without email, 5 without email consent (one overlaps).
	if mail["out"]+mail["skipped"] != 40 || text["out"] != 40 || push["out"] != mail["out"] {
		t.Errorf("mail %v, text %v, push %v", mail, text, push)
	}
	recs, err := outbox.Read(executor.OutboxDir(l.Home))
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, r := range recs {
		per[r.Channel+"/"+r.Tags["recipient"]]++
		if r.Channel == "email" && !strings.Contains(r.HTML, `href="http://127.0.0.1:8080/unsubscribe/`) {
			t.Errorf("unsubscribe link: %s", r.HTML)
		}
	}
	for k, n := range per {
		if n != 1 {
			t.Errorf("%s: %d messages", k, n)
		}
	}
	if int64(len(recs)) != mail["out"]+text["out"]+push["out"] {
		t.Errorf("%d messages for %v %v %v", len(recs), mail, text, push)
	}
}

func regexpARN(def []byte) []byte {
	return []byte(arnRE.ReplaceAllString(string(def), "arn:aws:lambda:us-east-1:123456789012:function:stepwise-$1"))
}

var arnRE = regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`)

// Slices that outlast their invocations loop through the Map iterator's
// Choice in both interpreters alike: every invocation has 8 s of a clock
// that advances a second per message (one worker, one slice at a time, so
// both runs stop at the same messages), and each recipient gets one message.
func TestCrossCheckRemainders(t *testing.T) {
	p, diags := builtin.CompileFiles("testdata/e2e/remainder.yaml", "testdata/e2e/catalog.yaml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var homes []*executor.Local
	goRes, nodeRes := sfnlocal.CrossCheck(t, regexpARN(p.JSON), json.RawMessage(`{"runId":"0193a5b0-0000-7000-8000-0000000000c3"}`), func() interp.Invoker {
		l := openLocal(t, p)
		c := &clock{t: l.Env.Now()}
		l.Env.Clock = c.Now
		l.Families.Channel.Sender = tickingSender{l.Families.Channel.Sender, c}
		opts := l.Families.Channel.Options
		opts.Workers = 1
		opts.Deadline = func(context.Context) (time.Time, bool) { return c.Now().Add(8 * time.Second), true }
		homes = append(homes, l)
		return l.Runner
	})
	for _, r := range []sfnlocal.Result{goRes, nodeRes} {
		if r.Error != "" {
			t.Fatalf("execution failed: %s %s", r.Error, r.Cause)
		}
	}
	steps := map[string]int{}
	for _, s := range goRes.Steps {
		steps[s.State]++
	}
	t.Logf("states entered: %v", steps)
	// 40 customers in slices of 10: 4 slices, each handed on at least once.
	if steps["mail:slice"] < 8 || steps["mail:more"] != steps["mail:slice"] || steps["mail:sent"] != 4 {
		t.Errorf("states entered %v: the slices were not handed on", steps)
	}
	for _, l := range homes {
		recs, err := outbox.Read(executor.OutboxDir(l.Home))
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for _, r := range recs {
			per[r.Tags["recipient"]]++
		}
		for k, n := range per {
			if n != 1 {
				t.Errorf("%s: %d messages", k, n)
			}
		}
		if len(per) != 36 {
			t.Errorf("%d recipients received a message, want 36 (4 have no address)", len(per))
		}
	}
}

// Every combination of the options that shape a channel's states (confirm,
// rate, quietHours) lowers to a machine the interpreter accepts: every state
// reachable, every transition to a state. (confirm with a rate once left the
// confirm loop unreachable; no golden had that pair.) On the Athena engine
// too, whose machines send listed slices through a distributed Map (not
// with quietHours).
func TestLoweringEveryOptionPair(t *testing.T) {
	abs, _ := filepath.Abs("testdata/e2e/catalog.yaml")
	cat, err := os.ReadFile(abs)
	if err != nil {
		t.Fatal(err)
	}
	athena := filepath.Join(t.TempDir(), "catalog.yaml")
	cat = bytes.Replace(cat, []byte("source: customers.jsonl"), []byte("source: "+filepath.Join(filepath.Dir(abs), "customers.jsonl")), 1)
	cat = append(cat, "\nengine: athena\nathena: { workgroup: primary, database: stepwise, outputLocation: s3://results/q/ }\n"...)
	if err := os.WriteFile(athena, cat, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, catalog := range []string{abs, athena} {
		for _, confirm := range []bool{false, true} {
			for _, rate := range []bool{false, true} {
				for _, quiet := range []bool{false, true} {
					name := fmt.Sprintf("athena=%v,confirm=%v,rate=%v,quietHours=%v", catalog == athena, confirm, rate, quiet)
					opts := ""
					if confirm {
						opts += "\n    confirm: true"
					}
					if rate {
						opts += "\n    rate: 10"
					}
					if quiet {
						opts += "\n    quietHours: { start: \"21:00\", end: \"08:00\" }"
					}
					src := `version: 1
id: options
dimension: customers
timezone: Europe/Paris
activities:
  - { id: everyone, type: build-audience }
  - id: mail
    type: email
    from: everyone` + opts + `
    message: { from: "Shop <news@shop.example>", subject: "Hi", html: "<p>Hi <a href=\"{{ message.unsubscribeUrl }}\">unsubscribe</a></p>" }
`
					dir := t.TempDir()
					file := filepath.Join(dir, "c.yaml")
					if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
						t.Fatal(err)
					}
					p, diags := builtin.CompileFiles(file, catalog)
					if diags.HasErrors() {
						t.Fatalf("%s: %v", name, diags)
					}
					if _, err := interp.Compile(p.JSON); err != nil {
						t.Errorf("%s: %v", name, err)
					}
					if got, want := bytes.Contains(p.JSON, []byte(`"Mode": "DISTRIBUTED"`)), catalog == athena && !quiet; got != want {
						t.Errorf("%s: a distributed Map %v, want %v", name, got, want)
					}
					// The plan is numbered on Athena (unload, query) unless quietHours.
					if got, want := bytes.Contains(p.JSON, []byte(`"mail:query"`)) && bytes.Contains(p.JSON, []byte(`"phase": "unload"`)), catalog == athena && !quiet; got != want {
						t.Errorf("%s: the plan's query on Athena %v, want %v", name, got, want)
					}
				}
			}
		}
	}
}
