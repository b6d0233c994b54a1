package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// graph is what run views need of a campaign: activities, types and transitions.
type graph struct {
	c     *campaign.Campaign
	order []string
	types map[string]string
	// to lists the activities fed by each activity.port.
	to    map[string][]string
	ports map[string][]string // declared order of ports seen in transitions
	nodes map[string]*yaml.Node
	fam   map[string]string
}

func newGraph(c *campaign.Campaign, reg *activity.Registry) *graph {
	g := &graph{c: c, types: map[string]string{}, to: map[string][]string{}, ports: map[string][]string{}, nodes: map[string]*yaml.Node{}, fam: map[string]string{}}
	for _, a := range c.Activities {
		g.order = append(g.order, a.ID)
		g.types[a.ID] = a.Type
		g.nodes[a.ID] = a.Node
		if spec, ok := reg.Lookup(a.Type); ok {
			g.fam[a.ID] = spec.Family
		}
		for _, t := range a.From {
			k := t.Activity + "." + t.PortOrOut()
			if _, ok := g.to[k]; !ok {
				g.ports[t.Activity] = append(g.ports[t.Activity], t.PortOrOut())
			}
			g.to[k] = append(g.to[k], a.ID)
		}
	}
	return g
}

// graphOf returns the graph of the campaign version a run is pinned to (the current
// draft for a test run).
func (s *Server) graphOf(ctx context.Context, run state.Run) (*graph, error) {
	key := fmt.Sprintf("%s@%d", run.CampaignID, run.Version)
	if run.Version > 0 {
		if g, ok := s.graphs.get(key); ok {
			return g, nil
		}
	}
	var doc []byte
	if run.Version > 0 {
		v, err := s.o.Store.GetVersion(ctx, run.CampaignID, run.Version)
		if err != nil {
			return nil, err
		}
		doc = v.Document
	} else {
		c, err := s.o.Store.GetCampaign(ctx, run.CampaignID)
		if err != nil {
			return nil, err
		}
		doc = c.Draft
	}
	c, _ := campaign.ParseCampaign(docName(run.CampaignID, doc), doc)
	if c == nil {
		return nil, fmt.Errorf("%w: campaign %s version %d does not parse", state.ErrNotFound, run.CampaignID, run.Version)
	}
	g := newGraph(c, s.registry)
	if run.Version > 0 {
		s.graphs.put(key, g)
	}
	return g, nil
}

func runView(r state.Run) RunView {
	v := RunView{ID: r.ID, CampaignID: r.CampaignID, Version: r.Version, Test: r.Test, Status: string(r.Status), Reason: r.Reason,
		Params: r.Params, StartedAt: r.StartedAt}
	if !r.EndedAt.IsZero() {
		t := r.EndedAt
		v.EndedAt = &t
	}
	return v
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// runDetail adds activities and transitions with their counts.
func (s *Server) runDetail(ctx context.Context, run state.Run) (RunView, *Error) {
	v := runView(run)
	tasks, err := s.o.Store.ListTasks(ctx, run.ID)
	if err != nil {
		return v, storeError(err, "tasks")
	}
	byID := map[string]state.Task{}
	for _, t := range tasks {
		byID[t.Activity] = t
	}
	g, err := s.graphOf(ctx, run)
	if err != nil {
		g = &graph{types: map[string]string{}, to: map[string][]string{}, ports: map[string][]string{}}
	}
	seen := map[string]bool{}
	add := func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		a := ActivityView{ID: id, Type: g.types[id], Status: "not_started"}
		if t, ok := byID[id]; ok {
			a.Status, a.Ports, a.Attempts, a.Error = string(t.Status), t.Ports, t.Attempts, t.Error
			a.StartedAt, a.EndedAt = timePtr(t.StartedAt), timePtr(t.EndedAt)
			if w := t.Waiting; w != nil && t.Status == state.TaskRunning {
				a.Waiting = &WaitView{Reason: w.Reason, Until: timePtr(w.Until), Zone: w.Zone}
			}
		}
		v.Activities = append(v.Activities, a)
	}
	for _, id := range g.order {
		add(id)
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		add(id)
	}
	v.Transitions = []Transition{}
	for _, a := range v.Activities {
		ports := append([]string(nil), g.ports[a.ID]...)
		extra := []string{}
		for p := range a.Ports {
			if !contains(ports, p) {
				extra = append(extra, p)
			}
		}
		sort.Strings(extra)
		for _, p := range append(ports, extra...) {
			tr := Transition{From: a.ID, Port: p, To: g.to[a.ID+"."+p]}
			if tr.To == nil {
				tr.To = []string{}
			}
			if n, ok := a.Ports[p]; ok {
				tr.Activated, tr.Count = true, &n
			}
			v.Transitions = append(v.Transitions, tr)
		}
	}
	return v, nil
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// idempotencyKey reads and checks the Idempotency-Key header.
func idempotencyKey(r *http.Request) (string, *Error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		return "", nil
	}
	if len(k) > 255 || strings.IndexFunc(k, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return "", fail(http.StatusBadRequest, codeInvalid, "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces")
	}
	return k, nil
}

// keyedRunNS derives the run id of a keyed trigger (UUID v5), so that the run is found
// by its key with one read, and the key is never stored apart from its run.
var keyedRunNS = uuid.MustParse("4f3c1d2e-8a59-4b7e-9c0d-6e2a71b5f8a3")

// keyedRunID is the id of the run a trigger from source ("trigger": the API; "end":
// an end activity) with an idempotency key starts.
func keyedRunID(source, campaignID, key string) string {
	return uuid.NewSHA1(keyedRunNS, []byte(source+"\x00"+campaignID+"\x00"+key)).String()
}

// fingerprint identifies a run request by its canonical body (parameters re-encoded
// with sorted keys), to tell a retry from a reused key.
func fingerprint(in RunInput) string {
	data, _ := json.Marshal(in)
	h := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(h[:])
}

// sameRequest refuses (422) a replayed key that came with another request than the
// run it started; runs recorded without a fingerprint are answered.
func sameRequest(run state.Run, fp string) *Error {
	if run.Fingerprint != "" && run.Fingerprint != fp {
		return fail(http.StatusUnprocessableEntity, codeKeyReused,
			"this Idempotency-Key was used for run %s with another request body; retry with the same body, or use a new key", run.ID)
	}
	return nil
}

// replayOf answers the run an Idempotency-Key started (see sameRequest).
func (s *Server) replayOf(w http.ResponseWriter, r *http.Request, run state.Run, fp string) *Error {
	if e := sameRequest(run, fp); e != nil {
		return e
	}
	return s.answerRun(w, r, run, http.StatusOK, true)
}

// paramsError turns NormalizeParams problems into a 400 with their paths.
func paramsError(err error) *Error {
	msg := err.Error()
	var ii *activity.InvalidInput
	if errors.As(err, &ii) {
		msg = ii.Msg
	}
	msg = strings.TrimPrefix(msg, "invalid parameters: ")
	e := fail(http.StatusBadRequest, codeParams, "invalid parameters: %s", msg)
	for _, p := range strings.Split(msg, "; ") {
		path, text, ok := strings.Cut(p, ": ")
		if !ok {
			continue
		}
		path = "$." + path
		if e.Path == "" {
			e.Path = path
		}
		e.Details = append(e.Details, Detail{Path: path, Message: text})
	}
	return e
}

// trigger starts a run of the published campaign with parameters (a signal).
func (s *Server) trigger(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	key, e := idempotencyKey(r)
	if e != nil {
		return e
	}
	var in RunInput
	if e := decodeJSON(r, &in, true); e != nil {
		return e
	}
	run, replayed, e := s.triggerRun(r.Context(), id, in, key, "trigger")
	if e != nil {
		if e.retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
		}
		return e
	}
	if replayed {
		return s.answerRun(w, r, run, http.StatusOK, true)
	}
	return s.answerRun(w, r, run, http.StatusAccepted, false)
}

// Trigger starts a run of a published campaign with parameters, once per idempotency
// key: the end activity's trigger service (flow.Triggerer) in local mode. It is not
// held back by the trigger interval, which bounds clients.
func (s *Server) Trigger(ctx context.Context, campaignID string, params map[string]any, idempotencyKey string) (string, error) {
	run, _, e := s.triggerRun(ctx, campaignID, RunInput{Params: params}, idempotencyKey, "end")
	if e != nil {
		if e.status < 500 { // the campaign, its status or the parameters: a retry cannot help
			return "", &activity.InvalidInput{Msg: "trigger campaign " + campaignID + ": " + e.Message}
		}
		if e.cause == nil {
			return "", fmt.Errorf("trigger campaign %s: %s", campaignID, e.Message)
		}
		return "", fmt.Errorf("trigger campaign %s: %s: %w", campaignID, e.Message, e.cause)
	}
	return run.ID, nil
}

// triggerRun records and starts a run of campaign id's published version; source
// ("trigger" for the API, "end" for the end activity) scopes the key, and only API
// triggers count against the interval. replayed: the key had started the run.
func (s *Server) triggerRun(ctx context.Context, id string, in RunInput, key, source string) (run state.Run, replayed bool, e *Error) {
	now := s.o.Now()
	c, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return run, false, storeError(err, "campaign "+id)
	}
	fp := fingerprint(in)
	runID, runKey := state.NewRunID(), ""
	if key != "" {
		// A replayed key answers the run it started, whatever the campaign's state now.
		runID, runKey = keyedRunID(source, id, key), source+"/"+key
		if run, err := s.o.Store.GetRun(ctx, runID); err == nil {
			return run, true, sameRequest(run, fp)
		} else if !errors.Is(err, state.ErrNotFound) {
			return run, false, storeError(err, "run")
		}
	}
	if c.Status != state.CampaignLive && c.Status != state.CampaignScheduled {
		why := "only a published (scheduled or live) campaign is triggered"
		if c.Status == state.CampaignDraft {
			why += "; publish it, or use test-run"
		}
		return run, false, refused(c, "trigger", why)
	}
	v, err := s.o.Store.GetVersion(ctx, id, c.PublishedVersion)
	if err != nil {
		return run, false, storeError(err, "version")
	}
	g, err := s.graphOf(ctx, state.Run{CampaignID: id, Version: v.Number})
	if err != nil {
		return run, false, storeError(err, "version")
	}
	params, err := runner.NormalizeParams(g.c, in.Params)
	if err != nil {
		return run, false, paramsError(err)
	}
	if s.o.TriggerInterval > 0 && source == "trigger" {
		// A claim holding our own run id is a request with the same key (in flight, or
		// failed before recording the run): it does not hold us back.
		held, created, err := s.o.Store.PutKey(ctx, state.Key{Key: "trigger-interval/" + id, Value: runID, CreatedAt: now, ExpiresAt: now.Add(s.o.TriggerInterval)})
		if err != nil {
			return run, false, storeError(err, "trigger interval")
		}
		if !created && held.Value != runID {
			wait := max(int(math.Ceil(held.ExpiresAt.Sub(now).Seconds())), 1)
			e := fail(http.StatusTooManyRequests, codeTooSoon, "campaign %s was triggered less than %s ago; retry in %d s", id, s.o.TriggerInterval, wait)
			e.retryAfter = wait
			return run, false, e
		}
	}
	if runKey == "" {
		runKey = "run/" + runID
	}
	// The key, the run and the request's fingerprint are one write.
	run, existed, err := s.o.Store.StartRun(ctx, state.Run{ID: runID, CampaignID: id, Version: v.Number, Params: params,
		IdempotencyKey: runKey, Fingerprint: fp, StartedAt: now})
	if err != nil {
		return run, false, storeError(err, "run")
	}
	if existed {
		return run, true, sameRequest(run, fp)
	}
	if c.Status == state.CampaignScheduled {
		s.o.Store.SetCampaignStatus(ctx, id, state.CampaignScheduled, state.CampaignLive, now)
	}
	if e := s.start(ctx, run, &v, nil); e != nil {
		return run, false, e
	}
	return run, false, nil
}

// start hands a recorded run to the executor; a refusal fails the run.
func (s *Server) start(ctx context.Context, run state.Run, v *state.Version, p *compile.Program) *Error {
	if err := s.o.Executor.Start(context.WithoutCancel(ctx), run, v, p); err != nil {
		s.o.Store.SetRunStatus(context.WithoutCancel(ctx), run.ID, state.RunRunning, state.RunFailed, "not started: "+err.Error(), s.o.Now())
		return &Error{status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the run could not be started; try again later", cause: err}
	}
	return nil
}

// answerRun writes a started run, after waiting for its end when ?wait= asks.
func (s *Server) answerRun(w http.ResponseWriter, r *http.Request, run state.Run, status int, replayed bool) *Error {
	if ws := r.URL.Query().Get("wait"); ws != "" {
		d, err := time.ParseDuration(ws)
		if err != nil || d < 0 {
			return fail(http.StatusBadRequest, codeInvalid, "wait must be a duration such as 30s").at("query.wait")
		}
		run = s.waitRun(r.Context(), run, min(d, s.o.MaxWait))
	}
	v, e := s.runDetail(r.Context(), run)
	if e != nil {
		return e
	}
	v.Replayed = replayed
	if status == http.StatusAccepted && run.Status.Terminal() {
		status = http.StatusOK
	}
	w.Header().Set("Location", "/v1/runs/"+run.ID)
	writeJSON(w, status, v)
	return nil
}

func (s *Server) waitRun(ctx context.Context, run state.Run, d time.Duration) state.Run {
	deadline := time.Now().Add(d)
	for !run.Status.Terminal() && run.Status != state.RunSuspended && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return run
		case <-time.After(20 * time.Millisecond):
		}
		if r, err := s.o.Store.GetRun(ctx, run.ID); err == nil {
			run = r
		}
	}
	return run
}

// testRun runs the draft in test mode: every activity runs, nothing is saved or sent.
func (s *Server) testRun(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	key, e := idempotencyKey(r)
	if e != nil {
		return e
	}
	var in RunInput
	if e := decodeJSON(r, &in, true); e != nil {
		return e
	}
	ctx := r.Context()
	c, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	if c.Status != state.CampaignDraft {
		return refused(c, "test-run", "test runs are of drafts; trigger the published campaign, or duplicate it")
	}
	p, diags, e := s.compileDoc(ctx, id, c.Draft)
	if e != nil {
		return e
	}
	if p == nil {
		return invalidCampaign(diags)
	}
	params, err := runner.NormalizeParams(p.Campaign, in.Params)
	if err != nil {
		return paramsError(err)
	}
	if err := s.o.Bundles.Publish(ctx, id, p.Bundle); err != nil {
		return storeError(fmt.Errorf("store the bundle: %w", err), "bundle")
	}
	runID := state.NewRunID()
	runKey := "run/" + runID
	if key != "" {
		runKey = "test/" + key
	}
	fp := fingerprint(in)
	run, existed, err := s.o.Store.StartRun(ctx, state.Run{ID: runID, CampaignID: id, Params: params, Test: true, IdempotencyKey: runKey,
		Fingerprint: fp, StartedAt: s.o.Now()})
	if err != nil {
		return storeError(err, "run")
	}
	if existed {
		return s.replayOf(w, r, run, fp)
	}
	// Its plan, for rendering proofs from it where runs do not record one (AWS).
	if err := proof.RememberPlan(ctx, s.o.Store, run.ID, p.Bundle.Digest, s.o.Now()); err != nil {
		return storeError(err, "run "+run.ID)
	}
	if e := s.start(ctx, run, nil, p); e != nil {
		return e
	}
	return s.answerRun(w, r, run, http.StatusAccepted, false)
}

// Fire starts the run of a scheduled slot: the local scheduler's way in. The run id
// is the firing's, and the slot is the idempotency key, so a retried firing is one run.
func (s *Server) Fire(ctx context.Context, f state.Firing) error {
	c, err := s.o.Store.GetCampaign(ctx, f.CampaignID)
	if err != nil {
		return err
	}
	if c.Status != state.CampaignScheduled && c.Status != state.CampaignLive {
		return fmt.Errorf("campaign %s is %s: not fired", c.ID, c.Status)
	}
	v, err := s.o.Store.GetVersion(ctx, c.ID, c.PublishedVersion)
	if err != nil {
		return err
	}
	g, err := s.graphOf(ctx, state.Run{CampaignID: c.ID, Version: v.Number})
	if err != nil {
		return err
	}
	params, err := runner.NormalizeParams(g.c, nil)
	if err != nil {
		return err
	}
	run, existed, err := s.o.Store.StartRun(ctx, state.Run{ID: f.RunID, CampaignID: c.ID, Version: v.Number, Params: params,
		IdempotencyKey: "schedule/" + f.Slot.UTC().Format(time.RFC3339), StartedAt: s.o.Now()})
	if err != nil || existed {
		return err
	}
	if c.Status == state.CampaignScheduled {
		s.o.Store.SetCampaignStatus(ctx, c.ID, state.CampaignScheduled, state.CampaignLive, s.o.Now())
	}
	if e := s.start(ctx, run, &v, nil); e != nil {
		return e.cause
	}
	return nil
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	limit, e := queryInt(r, "limit", 20, 1, 200)
	if e != nil {
		return e
	}
	if _, err := s.o.Store.GetCampaign(r.Context(), id); err != nil {
		return storeError(err, "campaign "+id)
	}
	after := r.URL.Query().Get("after")
	if len(after) > 200 {
		return fail(http.StatusBadRequest, codeInvalid, "after is not a cursor").at("query.after")
	}
	runs, next, err := s.o.Store.ListRuns(r.Context(), id, state.Page{Limit: limit, After: after})
	if err != nil {
		return storeError(err, "runs")
	}
	out := RunList{Runs: []RunView{}, Next: next}
	for _, run := range runs {
		out.Runs = append(out.Runs, runView(run))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// loadRun reads the {run} path parameter and its run.
func (s *Server) loadRun(r *http.Request) (state.Run, *Error) {
	id := r.PathValue("run")
	if !validRunID(id) {
		return state.Run{}, fail(http.StatusBadRequest, codeInvalidID, "invalid run id")
	}
	run, err := s.o.Store.GetRun(r.Context(), id)
	if err != nil {
		return run, storeError(err, "run "+id)
	}
	return run, nil
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	v, e := s.runDetail(r.Context(), run)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) preview(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	limit, e := queryInt(r, "limit", 20, 0, 1000)
	if e != nil {
		return e
	}
	offset, e := queryInt(r, "offset", 0, 0, math.MaxInt)
	if e != nil {
		return e
	}
	act, port := r.PathValue("activity"), r.PathValue("port")
	if !campaign.ValidPortName(act) || !campaign.ValidPortName(port) {
		return fail(http.StatusBadRequest, codeInvalidID, "invalid activity or port name")
	}
	t, err := s.o.Store.GetTask(r.Context(), run.ID, act)
	if err != nil {
		return storeError(err, "activity "+act+" of run "+run.ID)
	}
	n, ok := t.Ports[port]
	if !ok {
		return fail(http.StatusNotFound, codeNotActivated, "transition %s.%s of run %s was not activated", act, port, run.ID)
	}
	ref := t.Outputs[port]
	if ref == "" { // an event without a population (a scheduler's out)
		writeJSON(w, http.StatusOK, Preview{Columns: []PreviewColumn{}, Rows: [][]any{}, Total: n})
		return nil
	}
	if s.o.Previewer == nil {
		return fail(http.StatusNotImplemented, codeUnsupported, "previews are not available here")
	}
	p, err := s.o.Previewer.Preview(r.Context(), ref, int64(offset), limit)
	if err != nil {
		return storeError(err, "transition "+act+"."+port)
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) logs(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	only := r.URL.Query().Get("activity")
	tasks, err := s.o.Store.ListTasks(r.Context(), run.ID)
	if err != nil {
		return storeError(err, "tasks")
	}
	out := LogView{RunID: run.ID, Activities: []ActivityLog{}}
	for _, t := range tasks {
		if only != "" && t.Activity != only {
			continue
		}
		lines := t.Log
		if lines == nil {
			lines = []string{}
		}
		out.Activities = append(out.Activities, ActivityLog{Activity: t.Activity, Status: string(t.Status), Lines: lines, Dropped: t.LogDropped})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) confirm(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	if e := decodeJSON(r, &struct{}{}, true); e != nil {
		return e
	}
	act := r.PathValue("activity")
	if !campaign.ValidPortName(act) {
		return fail(http.StatusBadRequest, codeInvalidID, "invalid activity id")
	}
	if run.Status.Terminal() {
		return fail(http.StatusConflict, codeRunNotRunning, "run %s is %s: nothing is held", run.ID, run.Status)
	}
	if run.Test {
		return fail(http.StatusConflict, codeRunNotRunning, "run %s is a test run: it sends nothing", run.ID)
	}
	g, err := s.graphOf(r.Context(), run)
	if err != nil {
		return storeError(err, "campaign version")
	}
	if _, ok := g.types[act]; !ok {
		return fail(http.StatusNotFound, codeNotFound, "campaign %s has no activity %s", run.CampaignID, act)
	}
	if g.fam[act] != activity.Channel || !boolKey(g.nodes[act], "confirm") {
		return fail(http.StatusConflict, codeConflict, "activity %s does not hold its sends (only a channel activity with confirm: true does)", act)
	}
	now := s.o.Now().UTC()
	k, _, err := s.o.Store.PutKey(r.Context(), state.Key{Key: state.ConfirmKey(run.ID, act), Value: now.Format(time.RFC3339Nano), CreatedAt: now})
	if err != nil {
		return storeError(err, "confirmation")
	}
	at, _ := time.Parse(time.RFC3339Nano, k.Value)
	writeJSON(w, http.StatusOK, Confirmation{RunID: run.ID, Activity: act, Key: k.Key, ConfirmedAt: at})
	return nil
}

func boolKey(n *yaml.Node, key string) bool {
	if n == nil || n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1].Value == "true"
		}
	}
	return false
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	if e := decodeJSON(r, &struct{}{}, true); e != nil {
		return e
	}
	// A suspended run's execution polls its status and goes on once it is
	// running. A run no execution carries any more (its server was killed, or
	// it failed for a transient reason) continues only where the executor can
	// restart it.
	rs, restarts := s.o.Executor.(Restarter)
	switch {
	case run.Status == state.RunSuspended:
	case run.Status == state.RunFailed && restarts:
		if err := runner.Resumable(run); err != nil {
			return fail(http.StatusConflict, codeRunNotRunning, "%v", err)
		}
	case run.Status == state.RunFailed:
		return fail(http.StatusConflict, codeRunNotRunning, "run %s is failed; this deployment resumes only suspended runs: start a new run", run.ID)
	default:
		return fail(http.StatusConflict, codeRunNotRunning, "run %s is %s; only a suspended run, or one that failed for a transient reason, is resumed", run.ID, run.Status)
	}
	from, reason := run.Status, run.Reason
	run, err := s.o.Store.SetRunStatus(r.Context(), run.ID, from, state.RunRunning, "resumed", s.o.Now())
	if err != nil {
		return storeError(err, "run")
	}
	if restarts {
		if err := rs.Restart(r.Context(), run); err != nil {
			s.o.Store.SetRunStatus(context.WithoutCancel(r.Context()), run.ID, state.RunRunning, from, reason, s.o.Now())
			return fail(http.StatusConflict, codeRunNotRunning, "run %s cannot be resumed: %v", run.ID, err)
		}
	}
	v, e := s.runDetail(r.Context(), run)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) stopOneRun(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	if e := decodeJSON(r, &struct{}{}, true); e != nil {
		return e
	}
	if run.Status.Terminal() {
		return fail(http.StatusConflict, codeRunNotRunning, "run %s is already %s", run.ID, run.Status)
	}
	if e := s.stopRun(r.Context(), run, "stopped through the API"); e != nil {
		return e
	}
	run, _ = s.o.Store.GetRun(r.Context(), run.ID)
	writeJSON(w, http.StatusOK, runView(run))
	return nil
}
