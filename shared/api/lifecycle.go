package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/state"
)

// refused is the 409 answer to a lifecycle action (a state.Lifecycle name) the campaign
// does not allow now; details list the actions that it does, the refused one aside.
func refused(c state.Campaign, action, why string) *Error {
	verb := action
	if action == "back-to-draft" {
		verb = "take back to draft"
	}
	e := fail(http.StatusConflict, codeLifecycle, "cannot %s campaign %s: it is %s; %s", verb, c.ID, c.Status, why)
	allowed := slices.DeleteFunc(actions(c), func(a string) bool { return a == action })
	e.Details = []Detail{{Message: "allowed now: " + strings.Join(allowed, ", ")}}
	return e
}

func allowedFrom(c state.Campaign, to state.CampaignStatus) string {
	var from []string
	for _, s := range []state.CampaignStatus{state.CampaignDraft, state.CampaignScheduled, state.CampaignLive, state.CampaignCompleted,
		state.CampaignStopped, state.CampaignClosed, state.CampaignArchived} {
		if state.CanTransition(s, to) {
			from = append(from, string(s))
		}
	}
	return fmt.Sprintf("the lifecycle allows it only from: %s", strings.Join(from, ", "))
}

// move applies a lifecycle transition, refusing with 409 what the table forbids.
func (s *Server) move(ctx context.Context, id string, to state.CampaignStatus, action string, check func(state.Campaign) *Error) (state.Campaign, *Error) {
	cur, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return cur, storeError(err, "campaign "+id)
	}
	if !state.CanTransition(cur.Status, to) {
		return cur, refused(cur, action, allowedFrom(cur, to))
	}
	if check != nil {
		if e := check(cur); e != nil {
			return cur, e
		}
	}
	c, err := s.o.Store.SetCampaignStatus(ctx, id, cur.Status, to, s.o.Now())
	if err != nil {
		if errors.Is(err, state.ErrInvalid) {
			return cur, refused(cur, action, allowedFrom(cur, to))
		}
		return cur, storeError(err, "campaign "+id)
	}
	return c, nil
}

func (s *Server) validateCampaign(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	if e := decodeJSON(r, &struct{}{}, true); e != nil {
		return e
	}
	c, err := s.o.Store.GetCampaign(r.Context(), id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	p, diags, e := s.compileDoc(r.Context(), id, c.Draft)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, validateResult(docName(id, c.Draft), p, diags))
	return nil
}

func (s *Server) validateDocument(w http.ResponseWriter, r *http.Request) *Error {
	var in CampaignInput
	if e := decodeJSON(r, &in, false); e != nil {
		return e
	}
	doc, e := readDocument(in)
	if e != nil {
		return e
	}
	c, diags := parseDoc("", doc)
	name := ""
	if c != nil {
		name = c.File // before compileParsed puts it in the Sources' folder
	}
	p, diags, e := s.compileParsed(r.Context(), c, diags)
	if e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, validateResult(name, p, diags))
	return nil
}

// publish compiles the draft, deploys it, and records it as the next immutable version:
// draft → scheduled (with a schedule) or live.
func (s *Server) publish(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	if e := decodeJSON(r, &struct{}{}, true); e != nil {
		return e
	}
	ctx := r.Context()
	cur, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	if cur.Status != state.CampaignDraft {
		return refused(cur, "publish", "only a draft is published; published versions are immutable (duplicate it, or take it back to draft)")
	}
	p, diags, e := s.compileDoc(ctx, id, cur.Draft)
	if e != nil {
		return e
	}
	if p == nil {
		return invalidCampaign(diags)
	}
	sched := scheduleOf(p)
	if e := expired(p, sched, s.o.Now()); e != nil {
		return e
	}
	if err := s.o.Bundles.Publish(ctx, id, p.Bundle); err != nil {
		return storeError(fmt.Errorf("store the bundle: %w", err), "bundle")
	}
	to := state.CampaignLive
	if sched != nil {
		to = state.CampaignScheduled
	}
	number := cur.PublishedVersion + 1
	sum := sha256.Sum256(p.JSON)
	v := state.Version{CampaignID: id, Number: number, Document: cur.Draft, ASLHash: "sha256:" + hex.EncodeToString(sum[:]),
		ASLRef: compile.BundleKey(id, p.Bundle.Hash), CreatedAt: s.o.Now()}
	// The deployer changes nothing when it fails, so neither does the store.
	if s.o.Deployer != nil {
		d, err := s.o.Deployer.Deploy(ctx, Deployment{CampaignID: id, Version: number, ASL: p.JSON, Schedule: sched})
		if err != nil {
			return &Error{status: http.StatusBadGateway, Code: codeUnavailable, Message: "the platform refused the deployment; try again", cause: err}
		}
		v.ASLRef = d.ASLRef
		if sched != nil {
			sched.Ref = d.ScheduleRef
		}
	}
	c, err := s.o.Store.PublishVersion(ctx, v, state.CampaignDraft, to)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	if sched != nil {
		c.Schedule = sched
		if c, err = s.o.Store.UpdateCampaign(ctx, c); err != nil {
			return storeError(err, "campaign "+id)
		}
	}
	s.graphs.put(fmt.Sprintf("%s@%d", id, number), newGraph(p.Campaign, s.registry))
	writeJSON(w, http.StatusOK, view(c, false))
	return nil
}

// scheduleOf is the schedule to record for a compiled campaign (a scheduler activity is
// lifted into the campaign schedule by the compiler).
func scheduleOf(p *compile.Program) *state.Schedule {
	cs := p.Campaign.Schedule
	if cs == nil {
		return nil
	}
	tz := p.Campaign.Timezone
	if tz == "" {
		tz = "UTC"
	}
	return &state.Schedule{Cron: cs.Cron, Every: cs.Every, At: cs.At, From: cs.From, Until: cs.Until, Timezone: tz}
}

// expired refuses (422) a schedule with no slot left when published at now, naming
// where the campaign writes it (its schedule, or its scheduler activity).
func expired(p *compile.Program, sched *state.Schedule, now time.Time) *Error {
	if sched == nil {
		return nil
	}
	err := scheduler.CheckNotExpired(*sched, now)
	if err == nil {
		return nil
	}
	d := campaign.Diagnostic{Path: "schedule", Message: err.Error(), Severity: campaign.Error}
	var ee *scheduler.ExpiredError
	if errors.As(err, &ee) {
		d.Path, d.Message = ee.Path, ee.Message
	}
	for _, a := range p.Campaign.Activities {
		if a.Type == "scheduler" { // lifted into the campaign schedule by the compiler
			d.Path = strings.Replace(d.Path, "schedule", a.Path(), 1)
			break
		}
	}
	d.Pos = p.Campaign.Src.PosOf(d.Path)
	return invalidCampaign(campaign.Diagnostics{d})
}

func (s *Server) unschedule(ctx context.Context, id string) *Error {
	if s.o.Deployer == nil {
		return nil
	}
	if err := s.o.Deployer.Unschedule(ctx, id); err != nil {
		return &Error{status: http.StatusBadGateway, Code: codeUnavailable, Message: "the platform did not remove the schedule; try again", cause: err}
	}
	return nil
}

func (s *Server) lifecycle(to state.CampaignStatus, action string) handler {
	return func(w http.ResponseWriter, r *http.Request) *Error {
		id, e := campaignID(r)
		if e != nil {
			return e
		}
		if e := decodeJSON(r, &struct{}{}, true); e != nil {
			return e
		}
		ctx := r.Context()
		// The schedule goes first, once the lifecycle allows the move: a failure leaves
		// the campaign as it was, and the action can be retried.
		check := func(c state.Campaign) *Error {
			if to == state.CampaignClosed && !recurring(c) {
				return refused(c, action, "only a recurring campaign is closed; a one-shot campaign completes, or is stopped")
			}
			return s.unschedule(ctx, id)
		}
		c, e := s.move(ctx, id, to, action, check)
		if e != nil {
			return e
		}
		if to == state.CampaignStopped {
			if e := s.stopRuns(ctx, id, "campaign stopped"); e != nil {
				return e
			}
		}
		writeJSON(w, http.StatusOK, view(c, false))
		return nil
	}
}

// stopRuns stops every run of the campaign still running or suspended.
func (s *Server) stopRuns(ctx context.Context, id, reason string) *Error {
	after := ""
	for range 20 {
		runs, next, err := s.o.Store.ListRuns(ctx, id, state.Page{Limit: 100, After: after})
		if err != nil {
			return storeError(err, "runs")
		}
		for _, run := range runs {
			if run.Status.Terminal() {
				continue
			}
			if e := s.stopRun(ctx, run, reason); e != nil && e.status >= 500 {
				return e
			}
		}
		if next == "" {
			break
		}
		after = next
	}
	return nil
}

func (s *Server) stopRun(ctx context.Context, run state.Run, reason string) *Error {
	stopped, err := s.o.Store.SetRunStatus(ctx, run.ID, run.Status, state.RunStopped, reason, s.o.Now())
	if err != nil {
		return storeError(err, "run "+run.ID)
	}
	if err := s.o.Executor.Stop(ctx, stopped); err != nil {
		return &Error{status: http.StatusBadGateway, Code: codeUnavailable, Message: "the run is recorded stopped but the platform did not stop it; try again", cause: err}
	}
	return nil
}

// backToDraft unpublishes a campaign, as Adobe allows: a scheduled campaign before its
// first run, or a live one none of whose runs completed, the last having failed.
func (s *Server) backToDraft(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	if e := decodeJSON(r, &struct{}{}, true); e != nil {
		return e
	}
	ctx := r.Context()
	cur, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	if cur.Status != state.CampaignScheduled && cur.Status != state.CampaignLive {
		return refused(cur, "back-to-draft", "only a scheduled campaign before its first run, or a live one whose runs all failed, goes back to draft; duplicate it instead")
	}
	runs, _, err := s.o.Store.ListRuns(ctx, id, state.Page{Limit: 200})
	if err != nil {
		return storeError(err, "runs")
	}
	var live []state.Run
	for _, run := range runs {
		if !run.Test {
			live = append(live, run)
		}
	}
	switch {
	case cur.Status == state.CampaignScheduled && len(live) > 0:
		return refused(cur, "back-to-draft", "it has already run; duplicate it instead")
	case cur.Status == state.CampaignLive:
		if len(live) == 0 {
			return refused(cur, "back-to-draft", "it is live and may run at any time; stop it, or duplicate it")
		}
		for _, run := range live {
			if run.Status == state.RunSucceeded || run.Status == state.RunRunning {
				return refused(cur, "back-to-draft", "a run of it has completed or is running; duplicate it instead")
			}
		}
	}
	if e := s.unschedule(ctx, id); e != nil {
		return e
	}
	c, err := s.o.Store.SetCampaignStatus(ctx, id, cur.Status, state.CampaignDraft, s.o.Now())
	if err != nil {
		if errors.Is(err, state.ErrInvalid) {
			return refused(cur, "back-to-draft", "the state store's lifecycle has no way back to draft")
		}
		return storeError(err, "campaign "+id)
	}
	if e := s.stopRuns(ctx, id, "campaign taken back to draft"); e != nil {
		return e
	}
	writeJSON(w, http.StatusOK, view(c, false))
	return nil
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	if _, err := s.o.Store.GetCampaign(r.Context(), id); err != nil {
		return storeError(err, "campaign "+id)
	}
	vs, err := s.o.Store.ListVersions(r.Context(), id)
	if err != nil {
		return storeError(err, "versions")
	}
	out := VersionList{Versions: []VersionView{}}
	for _, v := range vs {
		out.Versions = append(out.Versions, VersionView{Number: v.Number, ASLHash: v.ASLHash, ASLRef: v.ASLRef, CreatedAt: v.CreatedAt})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// getVersion is one published version with its document.
func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	n, err := strconv.Atoi(r.PathValue("number"))
	if err != nil || n < 1 {
		return fail(http.StatusBadRequest, codeInvalid, "version %q must be a number from 1", trunc(r.PathValue("number"), 20)).at("path.number")
	}
	v, err := s.o.Store.GetVersion(r.Context(), id, n)
	if err != nil {
		return storeError(err, fmt.Sprintf("version %d of campaign %s", n, id))
	}
	writeJSON(w, http.StatusOK, VersionView{Number: v.Number, ASLHash: v.ASLHash, ASLRef: v.ASLRef, CreatedAt: v.CreatedAt, Source: string(v.Document)})
	return nil
}
