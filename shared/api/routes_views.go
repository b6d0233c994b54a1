package api

import "net/http"

// viewRoutes are the routes of proofs, reports and audiences (the console's pages).
func (s *Server) viewRoutes() []route {
	get, post := http.MethodGet, http.MethodPost
	return []route{
		{method: post, path: "/v1/campaigns/{id}/proofs", op: "renderProofs", summary: "Render a channel activity of the draft for chosen recipients (keys) or a sample, exactly as it would be sent: a test run stopped once the activity has run", tag: tagCampaigns,
			h: s.renderProofs, in: ProofInput{}, out: ProofList{}, errs: []int{400, 404, 413, 415, 422, 501, 503},
			accepted: "where a test run outlasts a request (AWS): the proofs' test run started, {runId, activity, proofs: [], pending: true}; the Location header is GET /v1/runs/{run}/activities/{activity}/proofs with the same key or sample, which answers 409 not_ready until the activity has run, then the proofs (and stops the run)",
			notes:    map[int]string{200: "the proofs, rendered at once (local: the test run ran within the request)", 422: "the campaign is invalid, or the proofs do not render (the activity did not run, a key is not among its recipients)"}},
		{method: get, path: "/v1/campaigns/{id}/report", op: "getReport", summary: "Sent, skipped by reason, delivered, bounced, complained, opened, clicked of each channel activity, per run (the newest 50) and in total, per experiment variant", tag: tagCampaigns,
			h: s.report, out: Report{}, query: []param{{"run", "string", "only this run"}}, errs: []int{400, 404, 501}},
		{method: get, path: "/v1/audiences/{name}", op: "getAudience", summary: "A saved audience: its versions (newest first) and the campaigns that read or save it", tag: tagData,
			h: s.getAudience, out: AudienceDetail{}, errs: []int{400, 404}},
	}
}
