package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/proof"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ProofReader reads the rendered messages a test run kept for a channel
// activity (channel.ReadProofs). The Previewer provides it when it can.
type ProofReader interface {
	Proofs(ctx context.Context, runID, activity string) ([]channel.Proof, error)
}

// ProofList is the sample of rendered messages a test run kept for a
// channel activity: the first by recipient key, exactly as they would be
// sent (headers, both bodies, the unsubscribe link; email also as .eml).
type ProofList struct {
	RunID    string          `json:"runId"`
	Activity string          `json:"activity"`
	Proofs   []channel.Proof `json:"proofs"`
	// Pending: the proofs' test run has started and the activity has not
	// run yet; GET the Location until it answers the proofs (202 only).
	Pending bool `json:"pending,omitempty"`
}

func (s *Server) proofs(w http.ResponseWriter, r *http.Request) *Error {
	run, e := s.loadRun(r)
	if e != nil {
		return e
	}
	act := r.PathValue("activity")
	if !campaign.ValidPortName(act) {
		return fail(http.StatusBadRequest, codeInvalidID, "invalid activity name")
	}
	if sel, ok, e := runProofQuery(r); e != nil {
		return e
	} else if ok { // chosen recipients, rendered again from the run's send plan
		return s.renderRunProofs(w, r, run, act, sel)
	}
	if _, err := s.o.Store.GetTask(r.Context(), run.ID, act); err != nil {
		return storeError(err, "activity "+act+" of run "+run.ID)
	}
	pr, ok := s.o.Previewer.(ProofReader)
	if !ok {
		return fail(http.StatusNotImplemented, codeUnsupported, "proofs are not available here")
	}
	ps, err := pr.Proofs(r.Context(), run.ID, act)
	if errors.Is(err, channel.ErrNoProofs) {
		return fail(http.StatusNotFound, codeNotFound, "%s", err.Error())
	}
	if err != nil {
		return storeError(err, "proofs of "+act)
	}
	if ps == nil {
		ps = []channel.Proof{}
	}
	writeJSON(w, http.StatusOK, ProofList{RunID: run.ID, Activity: act, Proofs: ps})
	return nil
}

// Proofs not ready: how long to wait before asking again.
const (
	codeNotReady   = "not_ready"
	proofRetrySecs = 2
)

// renderRunProofs renders chosen recipients of the run's channel activity
// act from its send plan: 409 not_ready while the activity has not run in a
// run still under way, 422 when it will not (the run ended before it, or it
// failed). A proof's test run still under way is stopped once its activity
// has run and been rendered from.
func (s *Server) renderRunProofs(w http.ResponseWriter, r *http.Request, run state.Run, act string, sel channel.Selection) *Error {
	ctx := r.Context()
	rr := s.runRenderer()
	if rr == nil {
		return fail(http.StatusNotImplemented, codeUnsupported, "rendering proofs is not available here")
	}
	task, err := s.o.Store.GetTask(ctx, run.ID, act)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return storeError(err, "activity "+act+" of run "+run.ID)
	}
	found := err == nil
	if !found {
		// Not started yet: only a channel activity of the run's campaign is worth waiting for.
		g, gerr := s.graphOf(ctx, run)
		if gerr != nil || !slices.Contains(channelActivities(g.c), act) {
			return storeError(err, "activity "+act+" of run "+run.ID)
		}
	}
	switch {
	case found && task.Status == state.TaskSucceeded:
	case found && task.Status == state.TaskFailed:
		return fail(http.StatusUnprocessableEntity, codeProof, "activity %s failed in run %s: %s", act, run.ID, task.Error)
	case found && task.Status == state.TaskSkipped:
		return fail(http.StatusUnprocessableEntity, codeProof, "activity %s was skipped in run %s: it has no send plan", act, run.ID)
	case run.Status.Terminal():
		why := string(run.Status)
		if run.Reason != "" {
			why += ": " + run.Reason
		}
		return fail(http.StatusUnprocessableEntity, codeProof, "run %s ended before activity %s ran (%s)", run.ID, act, why)
	default:
		where := "not started"
		if found {
			where = string(task.Status)
		}
		e := fail(http.StatusConflict, codeNotReady, "activity %s of run %s has not run yet (%s; run %s); retry in %d s", act, run.ID, where, run.Status, proofRetrySecs)
		w.Header().Set("Retry-After", strconv.Itoa(proofRetrySecs))
		return e
	}
	ps, err := rr.RenderRunProofs(ctx, run, act, sel)
	if ctx.Err() != nil {
		return cancelled(ctx)
	}
	if strings.HasPrefix(run.IdempotencyKey, proofKeyPrefix) && !run.Status.Terminal() {
		// The activity has run: the rest of the proof's campaign would only use resources.
		if e := s.stopRun(context.WithoutCancel(ctx), run, proof.Stopped); e != nil {
			s.o.Logger.Warn("stop a proof's test run", "run", run.ID, "err", e.Message)
		}
	}
	if err != nil {
		return renderError(err)
	}
	if ps == nil {
		ps = []channel.Proof{}
	}
	writeJSON(w, http.StatusOK, ProofList{RunID: run.ID, Activity: act, Proofs: ps})
	return nil
}
