package athenalocal_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// channelCampaign sends email in slices of 150 (rate-free, so a plan of
// one slice would finish in its own task; this one has many).
const channelCampaign = `version: 1
id: athena-channel
dimension: customers
timezone: Europe/Paris
activities:
  - id: subscribers
    type: build-audience
    where: { field: emailOptIn, op: eq, value: true }
  - id: mail
    type: email
    from: subscribers
    sliceSize: 150
    concurrency: 3
    message:
      from: "Shop <news@shop.example>"
      subject: "News for {{ recipient.firstName | default: 'you' }}"
      text: "Unsubscribe: {{ message.unsubscribeUrl }}"
`

// A channel under engine: athena lists its slices in the run store and
// sends them through the distributed Map (ItemReader, ResultWriter) of the
// same machine the interpreter runs: the same recipients get one message
// each, and the ports count alike, as under duckdb's inline Map.
func TestChannelAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(3000))
	if err := os.WriteFile(filepath.Join(dir, "channel.yaml"), []byte(channelCampaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := runLive(t, dir, "channel.yaml", "catalog.yaml", "home-duckdb")
	ath := runLive(t, dir, "channel.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) {
		t.Fatalf("counts differ\nduckdb %v\nathena %v", ports(duck), ports(ath))
	}
	sent := ath.Activities["mail"].Ports["out"]
	if sent < 300 {
		t.Fatalf("%d sent: too few for several slices", sent)
	}
	d := outboxTo(t, filepath.Join(dir, "home-duckdb"), duck.RunID)
	a := outboxTo(t, filepath.Join(dir, "home-athena"), ath.RunID)
	if int64(len(a)) != sent || !reflect.DeepEqual(d, a) {
		t.Fatalf("recipients differ: duckdb %d, athena %d messages (%d sent)", len(d), len(a), sent)
	}
	// The athena run went through the listed slices and the ResultWriter;
	// the duckdb run through the inline Map.
	home := filepath.Join(dir, "home-athena", "blob", "runs", ath.RunID, "mail")
	var listed []activity.Slice
	if err := json.Unmarshal([]byte(mustRead(t, filepath.Join(home, "_slices.json"))), &listed); err != nil {
		t.Fatal(err)
	}
	var rows int64
	for i, sl := range listed {
		if sl.Index != i || sl.Count > 150 {
			t.Errorf("slice %d listed as %+v", i, sl)
		}
		rows += sl.Count
	}
	if len(listed) < 2 || rows < sent {
		t.Errorf("%d slices listed of %d rows, %d sent", len(listed), rows, sent)
	}
	manifests, _ := filepath.Glob(filepath.Join(home, "_sent", "*", "manifest.json"))
	results, _ := filepath.Glob(filepath.Join(home, "_sent", "*", "SUCCEEDED_0.json"))
	if len(manifests) != 1 || len(results) != 1 {
		t.Errorf("ResultWriter output: %v %v", manifests, results)
	}
	// The athena run's plan is the UNLOAD's output (numbered on Athena).
	if unloaded, _ := filepath.Glob(filepath.Join(home, "_plan", "athena", "part-*")); len(unloaded) != 1 {
		t.Errorf("the plan's UNLOAD output: %v", unloaded)
	}
	if _, err := os.Stat(filepath.Join(dir, "home-duckdb", "blob", "runs", duck.RunID, "mail", "_slices.json")); err == nil {
		t.Error("the duckdb run listed its slices")
	}
	t.Logf("%v; %d slices listed", ports(ath), len(listed))
}

// runLive runs a campaign live (messages to the home's outbox).

// outboxTo lists the recipients (keys) and addresses of a run's messages,
// sorted; a recipient found twice fails the test.
func outboxTo(t *testing.T, home, runID string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(executor.OutboxDir(home), runID, "*.jsonl"))
	var to []string
	seen := map[string]bool{}
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m struct {
				To   string
				Tags map[string]string
			}
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatal(err)
			}
			r := m.Tags["recipient"]
			if r == "" || seen[r] {
				t.Errorf("%s: recipient %q got two messages (or none is named)", f, r)
			}
			seen[r] = true
			to = append(to, r+" "+m.To)
		}
		r.Close()
	}
	sort.Strings(to)
	return to
}

// lostAnswers invokes the runner, but the first send of each slice loses
// its answer (the slice was sent and recorded; Lambda's reply did not come
// back), so the distributed Map's child retries it.
type lostAnswers struct {
	inner interp.Invoker
	mu    sync.Mutex
	seen  map[int]bool
	lost  int
}

func (l *lostAnswers) Invoke(ctx context.Context, resource string, input json.RawMessage) (json.RawMessage, error) {
	out, err := l.inner.Invoke(ctx, resource, input)
	var req activity.Request
	if json.Unmarshal(input, &req) == nil && req.Phase == "send" && req.Slice != nil && err == nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.seen[req.Slice.Index] {
			l.seen[req.Slice.Index] = true
			l.lost++
			return nil, &interp.Failure{Name: "Retryable", Cause: "the answer was lost"}
		}
	}
	return out, err
}

// The compiled machine on the Athena engine, its sends' answers lost once
// each: every listed slice is sent again by the child's Retry, and nobody
// gets a second message (the ledger and the slice's part).
func TestChannelAthenaRetriedSlices(t *testing.T) {
	dir := workspace(t, customers(1500))
	if err := os.WriteFile(filepath.Join(dir, "channel.yaml"), []byte(channelCampaign), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := runLive(t, dir, "channel.yaml", "catalog.yaml", "home-duckdb")
	p, diags := builtin.CompileFiles(filepath.Join(dir, "channel.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, "home-athena"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Env.Clock = func() time.Time { return now }
	if err := l.Bundles.Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
		t.Fatal(err)
	}
	const runID = "0193a5b0-0000-7000-8000-0000000000f1"
	inv := &lostAnswers{inner: l.Runner, seen: map[int]bool{}}
	var entered []string
	var mu sync.Mutex
	_, err = interp.Run(context.Background(), p.JSON, json.RawMessage(`{"runId":"`+runID+`"}`), interp.Options{
		Invoker: inv, Athena: l.Athena(), S3: l.Athena(), Wait: interp.WaitSkip, Seed: 1,
		Listener: func(e interp.Event) {
			if e.Type == interp.StateEntered {
				mu.Lock()
				entered = append(entered, e.State)
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(entered, "mail:fanout") || slices.Contains(entered, "mail:send") {
		t.Fatalf("the sends did not go through the distributed Map: %v", entered)
	}
	a := outboxTo(t, filepath.Join(dir, "home-athena"), runID)
	d := outboxTo(t, filepath.Join(dir, "home-duckdb"), duck.RunID)
	if inv.lost < 2 || !reflect.DeepEqual(a, d) {
		t.Fatalf("%d answers lost; %d messages on athena, %d on duckdb", inv.lost, len(a), len(d))
	}
	t.Logf("%d slices retried after their answer was lost: %d messages, one per recipient", inv.lost, len(a))
}
