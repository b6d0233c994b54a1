package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ProofRenderer renders a channel activity's messages for chosen recipients
// exactly as the send path would (channel.RenderProofs): of a draft, through a
// test run stopped once the activity has run; or again from the send plan a
// run wrote. The Executor provides it when it can (the local backend).
type ProofRenderer interface {
	RenderProofs(ctx context.Context, p *compile.Program, activity string, params map[string]any, sel channel.Selection) ([]channel.Proof, string, error)
	RenderRunProofs(ctx context.Context, run state.Run, activity string, sel channel.Selection) ([]channel.Proof, error)
}

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
	pr, ok := s.o.Executor.(ProofRenderer)
	if !ok {
		return fail(http.StatusNotImplemented, codeUnsupported, "rendering proofs is not available here")
	}
	if err := s.o.Bundles.Publish(ctx, id, p.Bundle); err != nil {
		return storeError(err, "bundle")
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
