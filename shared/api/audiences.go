package api

import (
	"net/http"

	"github.com/stepwise-run/stepwise/shared/state"
)

func (s *Server) listAudiences(w http.ResponseWriter, r *http.Request) *Error {
	as, err := s.o.Store.ListAudiences(r.Context())
	if err != nil {
		return storeError(err, "audiences")
	}
	if as == nil {
		as = []state.Audience{}
	}
	writeJSON(w, http.StatusOK, AudienceList{Audiences: as})
	return nil
}
