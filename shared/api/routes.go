package api

import (
	"net/http"
	"slices"
	"sync"
)

// route is one operation: its handler and what the OpenAPI document says of it.
type route struct {
	method, path string
	pattern      string // for logs: "METHOD path"
	op, summary  string
	tag          string
	h            handler
	public       bool // no bearer token (unsubscribe)
	upload       bool // raw body capped by MaxUpload
	html         bool // answers text/html
	in, out      any  // JSON body types; nil for none
	status       int  // success status
	query        []param
	headers      []param
	errs         []int
	// accepted: the route may also answer 202 with out (an asynchronous
	// start); notes describe this route's statuses where errorText does not.
	accepted string
	notes    map[int]string
}

type param struct{ name, typ, desc string }

var (
	pLimit = param{"limit", "integer", "page size"}
	pAfter = param{"after", "string", "cursor from the previous page's next"}
	pWait  = param{"wait", "string", "wait up to this long (such as 30s, at most 60s) for the run to end before answering"}
	hIdem  = param{"Idempotency-Key", "string", "a retried request with the same key answers the same run (200, replayed: true); the same key with another body is 422"}
)

const (
	tagCampaigns = "campaigns"
	tagRuns      = "runs"
	tagData      = "data"
	tagPublic    = "public"
)

func (s *Server) routes() []route {
	get, post, put, del := http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	life := []int{400, 404, 409}
	rs := []route{
		{method: get, path: "/openapi.json", op: "getOpenAPI", summary: "This OpenAPI 3.1 document", tag: tagPublic, h: s.openapi, out: map[string]any{}},

		{method: post, path: "/v1/campaigns", op: "createCampaign", summary: "Create a draft campaign from its document", tag: tagCampaigns,
			h: s.createCampaign, in: CampaignInput{}, out: CampaignView{}, status: 201, errs: []int{400, 409, 413, 415, 422, 503}},
		{method: get, path: "/v1/campaigns", op: "listCampaigns", summary: "List campaigns", tag: tagCampaigns, h: s.listCampaigns,
			out: CampaignList{}, query: []param{{"status", "string", "only campaigns in this status"}}, errs: []int{400}},
		{method: get, path: "/v1/campaigns/{id}", op: "getCampaign", summary: "Get a campaign and its draft", tag: tagCampaigns,
			h: s.getCampaign, out: CampaignView{}, errs: []int{400, 404}},
		{method: put, path: "/v1/campaigns/{id}", op: "updateCampaign", summary: "Replace the document of a draft", tag: tagCampaigns,
			h: s.updateCampaign, in: CampaignInput{}, out: CampaignView{}, errs: []int{400, 404, 409, 413, 415, 422, 503}},
		{method: del, path: "/v1/campaigns/{id}", op: "deleteCampaign", summary: "Delete a draft", tag: tagCampaigns,
			h: s.deleteCampaign, status: 204, errs: life},
		{method: post, path: "/v1/campaigns/{id}/duplicate", op: "duplicateCampaign", summary: "Copy a campaign (any status) into a new draft", tag: tagCampaigns,
			h: s.duplicateCampaign, in: DuplicateInput{}, out: CampaignView{}, status: 201, errs: life},
		{method: post, path: "/v1/campaigns/{id}/validate", op: "validateCampaign", summary: "Validate the draft: every diagnostic, as the CLI prints it", tag: tagCampaigns,
			h: s.validateCampaign, out: ValidateResult{}, errs: []int{400, 404, 503}},
		{method: post, path: "/v1/validate", op: "validateDocument", summary: "Validate a campaign document without storing it", tag: tagCampaigns,
			h: s.validateDocument, in: CampaignInput{}, out: ValidateResult{}, errs: []int{400, 413, 415, 503}},
		{method: post, path: "/v1/campaigns/{id}/test-run", op: "testRun", summary: "Run the draft in test mode (nothing saved or sent); counts on every transition", tag: tagRuns,
			h: s.testRun, in: RunInput{}, out: RunView{}, status: 202, query: []param{pWait}, headers: []param{hIdem}, errs: []int{400, 404, 409, 422, 503}},
		{method: post, path: "/v1/campaigns/{id}/publish", op: "publishCampaign", summary: "Publish the draft as the next immutable version: scheduled (with a schedule) or live", tag: tagCampaigns,
			h: s.publish, out: CampaignView{}, errs: []int{400, 404, 409, 422, 502, 503}},
		{method: post, path: "/v1/campaigns/{id}/stop", op: "stopCampaign", summary: "Stop a scheduled or live campaign and its runs", tag: tagCampaigns,
			h: s.lifecycle("stopped", "stop"), out: CampaignView{}, errs: append(life, 502)},
		{method: post, path: "/v1/campaigns/{id}/close", op: "closeCampaign", summary: "Close a live recurring campaign: no new runs, runs in flight finish", tag: tagCampaigns,
			h: s.lifecycle("closed", "close"), out: CampaignView{}, errs: append(life, 502)},
		{method: post, path: "/v1/campaigns/{id}/archive", op: "archiveCampaign", summary: "Archive a campaign (any status but draft)", tag: tagCampaigns,
			h: s.lifecycle("archived", "archive"), out: CampaignView{}, errs: append(life, 502)},
		{method: post, path: "/v1/campaigns/{id}/back-to-draft", op: "backToDraft", summary: "Unpublish: a scheduled campaign before its first run, or a live one whose runs all failed", tag: tagCampaigns,
			h: s.backToDraft, out: CampaignView{}, errs: append(life, 502)},
		{method: get, path: "/v1/campaigns/{id}/versions", op: "listVersions", summary: "List published versions", tag: tagCampaigns,
			h: s.listVersions, out: VersionList{}, errs: []int{400, 404}},
		{method: get, path: "/v1/campaigns/{id}/versions/{number}", op: "getVersion", summary: "Get a published version with its document (what the console diffs a draft against)", tag: tagCampaigns,
			h: s.getVersion, out: VersionView{}, errs: []int{400, 404}},
		{method: post, path: "/v1/campaigns/{id}/trigger", op: "triggerCampaign", summary: "Start a run of the published campaign with parameters (a signal)", tag: tagRuns,
			h: s.trigger, in: RunInput{}, out: RunView{}, status: 202, query: []param{pWait}, headers: []param{hIdem}, errs: []int{400, 404, 409, 413, 422, 429, 503}},
		{method: get, path: "/v1/campaigns/{id}/runs", op: "listRuns", summary: "List a campaign's runs, newest first", tag: tagRuns,
			h: s.listRuns, out: RunList{}, query: []param{pLimit, pAfter}, errs: []int{400, 404}},
		{method: get, path: "/v1/runs/{run}", op: "getRun", summary: "Get a run: status, activities, counts on every transition", tag: tagRuns,
			h: s.getRun, out: RunView{}, errs: []int{400, 404}},
		{method: post, path: "/v1/runs/{run}/stop", op: "stopRun", summary: "Stop a running or suspended run", tag: tagRuns,
			h: s.stopOneRun, out: RunView{}, errs: []int{400, 404, 409, 502}},
		{method: post, path: "/v1/runs/{run}/resume", op: "resumeRun", summary: "Resume a suspended run, or one that failed for a transient reason or whose server was killed (→ running); it retries the failed activity, and nobody is sent to twice", tag: tagRuns,
			h: s.resume, out: RunView{}, errs: []int{400, 404, 409}},
		{method: get, path: "/v1/runs/{run}/logs", op: "getRunLogs", summary: "The log lines of a run's activities", tag: tagRuns,
			h: s.logs, out: LogView{}, query: []param{{"activity", "string", "only this activity"}}, errs: []int{400, 404}},
		{method: get, path: "/v1/runs/{run}/transitions/{activity}/{port}/preview", op: "previewTransition", summary: "A page of a transition's population (the first rows by default)", tag: tagRuns,
			h: s.preview, out: Preview{}, query: []param{{"limit", "integer", "rows, at most 1000 (default 20)"}, {"offset", "integer", "rows to skip, in dataset order (default 0)"}}, errs: []int{400, 404, 501}},
		{method: get, path: "/v1/runs/{run}/activities/{activity}/proofs", op: "getProofs", summary: "The first rendered messages a test run kept for a channel activity, exactly as they would be sent; with key or sample, those recipients rendered again from the run's send plan", tag: tagRuns,
			h: s.proofs, out: ProofList{}, query: []param{{"key", "string", "render this recipient again from the run's send plan (repeatable)"}, {"sample", "integer", "render a deterministic sample of this many recipients from the run's send plan"}}, errs: []int{400, 404, 409, 422, 501},
			notes: map[int]string{409: "not_ready: with key or sample, the activity has not run yet in a run under way (a proof's test run on AWS); ask again after Retry-After seconds",
				422: "with key or sample, the activity will not render: the run ended before it ran, it failed or was skipped, or a key is not among its recipients"}},
		{method: post, path: "/v1/runs/{run}/activities/{activity}/confirm", op: "confirmSend", summary: "Confirm a held send (channel activity with confirm: true)", tag: tagRuns,
			h: s.confirm, out: Confirmation{}, errs: []int{400, 404, 409}},
		{method: get, path: "/v1/audiences", op: "listAudiences", summary: "List saved audiences (current versions)", tag: tagData,
			h: s.listAudiences, out: AudienceList{}},
		{method: post, path: "/v1/uploads", op: "createUpload", summary: "Get where to upload a file for load-file", tag: tagData,
			h: s.newUpload, in: UploadInput{}, out: Upload{}, status: 201, errs: []int{400, 413, 501}},
		{method: put, path: "/v1/uploads/{id}/{name}", op: "putUpload", summary: "Upload a file (local mode; the URL createUpload returns)", tag: tagData,
			h: s.receiveUpload, upload: true, out: Upload{}, status: 201, errs: []int{400, 413, 501}},
		{method: get, path: "/unsubscribe/{token}", op: "unsubscribePage", summary: "Unsubscribe confirmation page (changes nothing)", tag: tagPublic,
			h: s.unsubscribeGet, public: true, html: true, errs: []int{400}},
		{method: post, path: "/unsubscribe/{token}", op: "unsubscribe", summary: "RFC 8058 one-click unsubscribe: suppresses the address", tag: tagPublic,
			h: s.unsubscribePost, public: true, html: true, errs: []int{400}},
	}
	rs = append(rs, s.viewRoutes()...) // proofs, reports, audiences (routes_views.go)
	for i := range rs {
		rs[i].pattern = rs[i].method + " " + rs[i].path
		if rs[i].status == 0 {
			rs[i].status = http.StatusOK
		}
		if !rs[i].upload && !slices.Contains(rs[i].errs, 503) { // the request deadline
			rs[i].errs = append(rs[i].errs, 503)
		}
		rs[i].errs = append([]int{401}, rs[i].errs...)
		if rs[i].public {
			rs[i].errs = rs[i].errs[1:]
		}
	}
	return rs
}

var openapiDoc struct {
	once sync.Once
	data []byte
	err  error
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) *Error {
	openapiDoc.once.Do(func() { openapiDoc.data, openapiDoc.err = OpenAPI() })
	if openapiDoc.err != nil {
		return &Error{status: http.StatusInternalServerError, Code: codeInternal, cause: openapiDoc.err}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiDoc.data)
	return nil
}
