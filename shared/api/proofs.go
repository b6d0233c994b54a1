package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/campaign"
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
	if _, err := s.o.Store.GetTask(r.Context(), run.ID, act); err != nil {
		return storeError(err, "activity "+act+" of run "+run.ID)
	}
	if sel, ok, e := runProofQuery(r); e != nil {
		return e
	} else if ok { // chosen recipients, rendered again from the run's send plan
		rr, can := s.o.Executor.(ProofRenderer)
		if !can {
			return fail(http.StatusNotImplemented, codeUnsupported, "rendering proofs is not available here")
		}
		ps, err := rr.RenderRunProofs(r.Context(), run, act, sel)
		if err != nil {
			if r.Context().Err() != nil {
				return cancelled(r.Context())
			}
			return renderError(err)
		}
		if ps == nil {
			ps = []channel.Proof{}
		}
		writeJSON(w, http.StatusOK, ProofList{RunID: run.ID, Activity: act, Proofs: ps})
		return nil
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
