package api

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ProofRenderer renders a channel activity's messages of a draft for chosen
// recipients exactly as the send path would (channel.RenderProofs), at once:
// through a test run stopped once the activity has run. The Executor
// provides it when its test runs end within a request (the local backend);
// without it, a draft's proofs are a test run started here and rendered by
// the RunProofRenderer once the activity has run (202, then GET).
type ProofRenderer interface {
	RenderProofs(ctx context.Context, p *compile.Program, activity string, params map[string]any, sel channel.Selection) ([]channel.Proof, string, error)
}

// RunProofRenderer renders chosen recipients of a run's channel activity
// again from the send plan the run wrote (proof.Render): it renders only.
// Options.Renderer, or else the Executor when it is one (the local backend).
type RunProofRenderer interface {
	RenderRunProofs(ctx context.Context, run state.Run, activity string, sel channel.Selection) ([]channel.Proof, error)
}

// runRenderer is the RunProofRenderer of the server, or nil.
func (s *Server) runRenderer() RunProofRenderer {
	if s.o.Renderer != nil {
		return s.o.Renderer
	}
	rr, _ := s.o.Executor.(RunProofRenderer)
	return rr
}

// proofKeyPrefix marks the idempotency key of a proof's test run (a run
// the API stops once it has rendered the proofs).
const proofKeyPrefix = "proof/"

// ProofInput asks for proofs of a channel activity of the draft.
type ProofInput struct {
	Activity string `json:"activity" jsonschema:"required,description=the channel activity (email, sms or push)"`
	// Keys are recipients' keys (several key columns joined with |); without
	// them, Sample recipients are picked.
	Keys   []string       `json:"keys,omitempty" jsonschema:"maxItems=50"`
	Sample int            `json:"sample,omitempty" jsonschema:"minimum=0,maximum=50,description=a deterministic sample of this many recipients (default 3) when no keys are given"`
	Params map[string]any `json:"params,omitempty" jsonschema:"description=run parameters of the test run"`
}

// Proof bounds.
const (
	maxProofs     = 50
	defaultSample = 3
)

// renderError is a proof that could not be rendered: the activity did not
// run, or a key is not among its recipients.
func renderError(err error) *Error {
	return fail(http.StatusUnprocessableEntity, codeProof, "%s", err.Error())
}

const codeProof = "proof_failed"

// channelActivities lists the channel activities of a campaign, in order.
func channelActivities(c *campaign.Campaign) []string {
	var out []string
	for _, a := range c.Activities {
		if _, ok := channel.Kinds[a.Type]; ok {
			out = append(out, a.ID)
		}
	}
	return out
}

func (s *Server) renderProofs(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	var in ProofInput
	if e := decodeJSON(r, &in, false); e != nil {
		return e
	}
	sel, e := selection(in.Keys, in.Sample, "$.keys", "$.sample")
	if e != nil {
		return e
	}
	ctx := r.Context()
	c, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	p, diags, e := s.compileDoc(ctx, id, c.Draft)
	if e != nil {
		return e
	}
	if p == nil {
		return invalidCampaign(diags)
	}
	chans := channelActivities(p.Campaign)
	if !slices.Contains(chans, in.Activity) {
		list := strings.Join(chans, ", ")
		if list == "" {
			list = "none"
		}
		return fail(http.StatusBadRequest, codeInvalid, "campaign %s has no channel activity %q; its channel activities: %s", id, trunc(in.Activity, 80), list).at("$.activity")
	}
	params, err := runner.NormalizeParams(p.Campaign, in.Params)
	if err != nil {
		return paramsError(err)
	}
	pr, sync := s.o.Executor.(ProofRenderer)
	if !sync && s.runRenderer() == nil {
		return fail(http.StatusNotImplemented, codeUnsupported, "rendering proofs is not available here")
	}
	if err := s.o.Bundles.Publish(ctx, id, p.Bundle); err != nil {
		return storeError(err, "bundle")
	}
	if !sync {
		return s.startProof(w, r, p, id, in.Activity, params, sel)
	}
	ps, runID, err := pr.RenderProofs(ctx, p, in.Activity, params, sel)
	if err != nil {
		if ctx.Err() != nil {
			return cancelled(ctx)
		}
		return renderError(err)
	}
	if ps == nil {
		ps = []channel.Proof{}
	}
	writeJSON(w, http.StatusOK, ProofList{RunID: runID, Activity: in.Activity, Proofs: ps})
	return nil
}

// startProof starts the test run of a draft's proofs (a test run longer
// than a request: AWS) and answers 202 with the URL that renders them once
// the activity has run.
func (s *Server) startProof(w http.ResponseWriter, r *http.Request, p *compile.Program, id, act string, params map[string]any, sel channel.Selection) *Error {
	ctx := r.Context()
	runID := state.NewRunID()
	run, _, err := s.o.Store.StartRun(ctx, state.Run{ID: runID, CampaignID: id, Params: params, Test: true,
		IdempotencyKey: proofKeyPrefix + runID, StartedAt: s.o.Now()})
	if err != nil {
		return storeError(err, "run")
	}
	if err := proof.RememberPlan(ctx, s.o.Store, run.ID, p.Bundle.Digest, s.o.Now()); err != nil {
		return storeError(err, "run "+run.ID)
	}
	if e := s.start(ctx, run, nil, p); e != nil {
		return e
	}
	q := url.Values{}
	if len(sel.Keys) > 0 {
		q["key"] = sel.Keys
	} else {
		q.Set("sample", strconv.Itoa(sel.Sample))
	}
	w.Header().Set("Location", "/v1/runs/"+url.PathEscape(run.ID)+"/activities/"+url.PathEscape(act)+"/proofs?"+q.Encode())
	writeJSON(w, http.StatusAccepted, ProofList{RunID: run.ID, Activity: act, Proofs: []channel.Proof{}, Pending: true})
	return nil
}

// selection checks the recipients asked for; at names where (JSON paths or
// query parameters) for errors.
func selection(keys []string, sample int, keysAt, sampleAt string) (channel.Selection, *Error) {
	if len(keys) > maxProofs {
		return channel.Selection{}, fail(http.StatusBadRequest, codeInvalid, "at most %d keys, not %d", maxProofs, len(keys)).at(keysAt)
	}
	for _, k := range keys {
		if k == "" {
			return channel.Selection{}, fail(http.StatusBadRequest, codeInvalid, "a key is empty").at(keysAt)
		}
	}
	if sample < 0 || sample > maxProofs {
		return channel.Selection{}, fail(http.StatusBadRequest, codeInvalid, "sample %d: want 1 to %d", sample, maxProofs).at(sampleAt)
	}
	if len(keys) == 0 && sample == 0 {
		sample = defaultSample
	}
	return channel.Selection{Keys: keys, Sample: sample}, nil
}

// runProofQuery reads ?key= (repeatable) and ?sample=N of the run proofs
// route; ok is false when neither is given (the kept sample is wanted).
func runProofQuery(r *http.Request) (channel.Selection, bool, *Error) {
	q := r.URL.Query()
	keys, sampleText := q["key"], q.Get("sample")
	if len(keys) == 0 && sampleText == "" {
		return channel.Selection{}, false, nil
	}
	n := 0
	if sampleText != "" {
		var err error
		if n, err = strconv.Atoi(sampleText); err != nil || n < 1 {
			return channel.Selection{}, false, fail(http.StatusBadRequest, codeInvalid, "sample %q: want a number from 1 to %d", trunc(sampleText, 20), maxProofs).at("sample")
		}
	}
	sel, e := selection(keys, n, "key", "sample")
	return sel, true, e
}
