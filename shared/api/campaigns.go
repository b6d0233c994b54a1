package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/scheduler"
	"github.com/stepwise-run/stepwise/shared/state"
)

// campaignID reads and checks the {id} path parameter.
func campaignID(r *http.Request) (string, *Error) {
	id := r.PathValue("id")
	if !campaign.ValidCampaignID(id) {
		return "", fail(http.StatusBadRequest, codeInvalidID, "campaign id %q must match [a-z0-9-]{1,64}", trunc(id, 80))
	}
	return id, nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// docName is the file name diagnostics show for a campaign's document.
func docName(id string, doc []byte) string {
	if id == "" {
		id = "campaign"
	}
	if t := bytes.TrimSpace(doc); len(t) > 0 && t[0] == '{' {
		return id + ".json"
	}
	return id + ".yaml"
}

// readDocument takes the document out of a CampaignInput, at most MaxCampaignBytes.
func readDocument(in CampaignInput) ([]byte, *Error) {
	doc, e := documentOf(in)
	if e == nil && len(doc) > MaxCampaignBytes {
		return nil, fail(http.StatusRequestEntityTooLarge, codeTooLarge, "the campaign document is %d bytes; a campaign is at most %s (%d bytes)",
			len(doc), sizeText(MaxCampaignBytes), MaxCampaignBytes).at("$.source")
	}
	return doc, e
}

func documentOf(in CampaignInput) ([]byte, *Error) {
	hasObj := len(bytes.TrimSpace(in.Campaign)) > 0 && string(bytes.TrimSpace(in.Campaign)) != "null"
	switch {
	case in.Source != "" && hasObj:
		return nil, fail(http.StatusBadRequest, codeInvalid, "send the campaign in source or in campaign, not both").at("$.campaign")
	case in.Source != "":
		return []byte(in.Source), nil
	case hasObj:
		if bytes.TrimSpace(in.Campaign)[0] != '{' {
			return nil, fail(http.StatusBadRequest, codeInvalidType, "$.campaign must be an object").at("$.campaign")
		}
		if indentedSize(in.Campaign) > campaign.MaxCampaignBytes {
			// Indenting would cost more than a campaign may be (a deep object
			// indents quadratically): parse it as sent, where the limits apply.
			return in.Campaign, nil
		}
		var buf bytes.Buffer
		if err := json.Indent(&buf, in.Campaign, "", "  "); err != nil {
			return nil, fail(http.StatusBadRequest, codeMalformed, "malformed JSON in campaign").at("$.campaign")
		}
		buf.WriteByte('\n')
		return buf.Bytes(), nil
	}
	return nil, fail(http.StatusBadRequest, codeInvalid, "the campaign document is missing: send source (YAML or JSON text) or campaign (an object)").at("$.source")
}

// indentedSize bounds the size of JSON once indented by two spaces a level:
// each value or closing bracket may start a line indented to the depth.
func indentedSize(raw []byte) int {
	size, depth, maxDepth, lines := len(raw), 0, 0, 0
	inString, escaped := false, false
	for _, b := range raw {
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped = b == '\\'
			inString = b != '"'
		case b == '"':
			inString = true
		case b == '{' || b == '[':
			depth++
			maxDepth = max(maxDepth, depth)
			lines++
		case b == '}' || b == ']':
			depth--
			lines++
		case b == ',':
			lines++
		}
	}
	return size + lines*(1+2*maxDepth)
}

// parseDoc decodes a document's structure; errors make it unsavable. Without
// an id, the file name diagnostics show is the document's own id's, once read.
func parseDoc(id string, doc []byte) (*campaign.Campaign, campaign.Diagnostics) {
	c, diags := campaign.ParseCampaign(docName(id, doc), doc)
	if id == "" && c != nil && campaign.ValidCampaignID(c.ID) {
		name := docName(c.ID, doc)
		for i := range diags {
			diags[i].Pos.File = name
		}
		c.File, c.Src.File = name, name
	}
	return c, diags
}

// invalidCampaign is the 422 answer carrying every diagnostic.
func invalidCampaign(diags campaign.Diagnostics) *Error {
	e := fail(http.StatusUnprocessableEntity, codeCampaign, "the campaign is invalid")
	for _, d := range diags {
		if d.Severity == campaign.Warning {
			continue
		}
		if e.Path == "" {
			e.Path = jsonPath(d.Path)
			e.Message = d.String()
		}
		e.Details = append(e.Details, Detail{Path: jsonPath(d.Path), Message: d.String()})
	}
	return e
}

// jsonPath turns a campaign path (activities[2].where) into a JSON path.
func jsonPath(p string) string {
	if p == "" {
		return "$"
	}
	return "$." + p
}

// compileDoc validates and compiles a document against the catalog and template files.
// It stops between stages, and between the checks of activities and templates, once ctx
// is done (the request's deadline, or the client gone).
func (s *Server) compileDoc(ctx context.Context, id string, doc []byte) (p *compile.Program, diags campaign.Diagnostics, herr *Error) {
	defer func() {
		if r := recover(); r != nil {
			if r != errCancelled {
				panic(r)
			}
			p, diags, herr = nil, nil, cancelled(ctx)
		}
	}()
	c, diags := campaign.ParseCampaign(docName(id, doc), doc)
	return s.compileParsed(ctx, c, diags)
}

// compileParsed goes on from a parsed document (each parse of a large one costs).
func (s *Server) compileParsed(ctx context.Context, c *campaign.Campaign, diags campaign.Diagnostics) (*compile.Program, campaign.Diagnostics, *Error) {
	if c == nil {
		return nil, diags, nil
	}
	if ctx.Err() != nil {
		return nil, nil, cancelled(ctx)
	}
	// The campaign's folder (load-file's root) is the Sources' folder, not
	// the server's working folder.
	if f, ok := s.o.Sources.(interface{ Folder() string }); ok {
		c.File = filepath.Join(f.Folder(), c.File)
	}
	catPath, catData, err := s.o.Sources.Catalog(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, cancelled(ctx)
		}
		return nil, nil, catalogError(err)
	}
	cat, cd := campaign.ParseCatalogSchemas(ctx, catPath, catData, s.o.Schemas)
	for i := range cd {
		cd[i].Pos.File = filepath.Base(cd[i].Pos.File)
	}
	diags = append(diags, cd...)
	if cat == nil || cd.HasErrors() {
		diags.Sort()
		return nil, diags, nil
	}
	files := map[string][]byte{}
	for _, a := range c.Activities {
		for _, ref := range fileRefs(a.Node, a.Path()) {
			if _, done := files[ref.name]; done {
				continue
			}
			data, err := s.o.Sources.File(ctx, ref.name)
			if ctx.Err() != nil {
				return nil, nil, cancelled(ctx)
			}
			if err != nil {
				diags = append(diags, campaign.Diagnostic{Pos: c.Src.PosOf(ref.path), Path: ref.path, Severity: campaign.Error,
					Message: fmt.Sprintf("cannot read template file %q: %v", ref.name, err)})
				continue
			}
			files[ref.name] = data
		}
	}
	// As compile.CompileFiles: earlier errors hide none of the passes' own.
	run := compile.Compile
	if diags.HasErrors() {
		run = compile.Check
	}
	if ctx.Err() != nil {
		return nil, nil, cancelled(ctx)
	}
	p, pd := run(c, cat, s.registry, files, checkersWith(ctx, s.checkers))
	diags = append(diags, pd...)
	diags.Sort()
	diags = diags.Unique()
	if diags.HasErrors() || p.JSON == nil {
		return nil, diags, nil
	}
	return p, diags, nil
}

// errCancelled unwinds a compile whose request is over (see checkersWith).
var errCancelled = errors.New("request cancelled")

// checkersWith makes each check first look at ctx: the compiler takes no context, and
// the checks (conditions, templates) are where its time goes.
func checkersWith(ctx context.Context, c compile.Checkers) compile.Checkers {
	stop := func() {
		if ctx.Err() != nil {
			panic(errCancelled)
		}
	}
	out := c
	if f := c.Condition; f != nil {
		out.Condition = func(r campaign.Reporter, path string, cond *condition.Condition, sc campaign.Schema, p *compile.Program) {
			stop()
			f(r, path, cond, sc, p)
		}
	}
	if f := c.TestCondition; f != nil {
		out.TestCondition = func(r campaign.Reporter, path string, cond *condition.Condition, p *compile.Program) *condition.Checked {
			stop()
			return f(r, path, cond, p)
		}
	}
	if f := c.Template; f != nil {
		out.Template = func(r campaign.Reporter, path, source string, recipient campaign.Schema, p *compile.Program) {
			stop()
			f(r, path, source, recipient, p)
		}
	}
	return out
}

// cancelled answers a request whose context ended before its work did.
func cancelled(ctx context.Context) *Error {
	return &Error{status: http.StatusServiceUnavailable, Code: codeDeadline, Message: "the request was cancelled before it was done (its deadline passed); retry later, or send less",
		cause: context.Cause(ctx)}
}

// catalogError answers a catalog that cannot be read: 503, naming what is missing.
func catalogError(err error) *Error {
	if errors.Is(err, fs.ErrNotExist) {
		return &Error{status: http.StatusServiceUnavailable, Code: codeNotConfigured, cause: err,
			Message: "the server has no catalog to validate campaigns against: start serve with --catalog FILE or put catalog.yaml in its --dir (on AWS, upload the catalog to the bucket)"}
	}
	return &Error{status: http.StatusServiceUnavailable, Code: codeUnavailable, Message: "the catalog cannot be read; try again later", cause: fmt.Errorf("read the catalog: %w", err)}
}

type fileRef struct{ name, path string }

// fileRefs finds the `file: x` template references under an activity (as the compiler does).
func fileRefs(n *yaml.Node, path string) []fileRef {
	var out []fileRef
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 2 && n.Content[0].Value == "file" && n.Content[1].Kind == yaml.ScalarNode && !strings.Contains(n.Content[1].Value, "://") {
			out = append(out, fileRef{n.Content[1].Value, campaign.JoinPath(path, "file")})
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, fileRefs(n.Content[i+1], campaign.JoinPath(path, n.Content[i].Value))...)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			out = append(out, fileRefs(c, campaign.JoinPath(path, i))...)
		}
	}
	return out
}

// validateResult is the answer of validate for the document name compiled
// to p (nil when it did not compile): Output ends, when it is valid, with
// the line `stepwise validate` prints then (ValidSummary).
func validateResult(name string, p *compile.Program, diags campaign.Diagnostics) ValidateResult {
	res := ValidateResult{Valid: !diags.HasErrors(), Diagnostics: []Diagnostic{}}
	var out strings.Builder
	for _, d := range diags {
		res.Diagnostics = append(res.Diagnostics, diagnostic(d))
		out.WriteString(d.String())
		out.WriteByte('\n')
	}
	if res.Valid && p != nil && p.Campaign != nil {
		out.WriteString(ValidSummary(name, len(p.Campaign.Activities)))
		out.WriteByte('\n')
	}
	res.Output = out.String()
	return res
}

// ValidSummary is the line `stepwise validate` prints for a valid campaign.
func ValidSummary(file string, activities int) string {
	return fmt.Sprintf("%s: valid (%d activities)", file, activities)
}

// actions lists the lifecycle actions a campaign allows now: those of its status
// (state.Lifecycle), close only when it is recurring.
func actions(c state.Campaign) []string {
	return slices.DeleteFunc(state.Actions(c.Status), func(a string) bool { return a == "close" && !recurring(c) })
}

// recurring: runs on a cron or every schedule, or on demand (no schedule); a one-shot
// `at` campaign is not.
func recurring(c state.Campaign) bool { return c.Schedule == nil || c.Schedule.At == "" }

func view(c state.Campaign, withSource bool) CampaignView {
	v := CampaignView{ID: c.ID, Name: c.Name, Status: string(c.Status), PublishedVersion: c.PublishedVersion, Schedule: c.Schedule,
		Rev: c.Rev, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Actions: actions(c)}
	if withSource {
		v.Source = string(c.Draft)
	}
	return v
}

// diagnose validates a document for a campaign view; run it before saving, so that a
// failure (no catalog) saves nothing.
func (s *Server) diagnose(ctx context.Context, id string, doc []byte) (func(CampaignView) CampaignView, *Error) {
	_, diags, herr := s.compileDoc(ctx, id, doc)
	if herr != nil {
		return nil, herr
	}
	return func(v CampaignView) CampaignView {
		valid := !diags.HasErrors()
		v.Valid = &valid
		for _, d := range diags {
			v.Diagnostics = append(v.Diagnostics, diagnostic(d))
		}
		return v
	}, nil
}

func (s *Server) createCampaign(w http.ResponseWriter, r *http.Request) *Error {
	var in CampaignInput
	if e := decodeJSON(r, &in, false); e != nil {
		return e
	}
	if in.Rev != 0 {
		return fail(http.StatusBadRequest, codeInvalid, "rev is for updates").at("$.rev")
	}
	doc, e := readDocument(in)
	if e != nil {
		return e
	}
	c, diags := parseDoc("", doc)
	if c == nil || diags.HasErrors() {
		return invalidCampaign(diags)
	}
	withDiags, e := s.diagnose(r.Context(), c.ID, doc)
	if e != nil {
		return e
	}
	rec, err := s.o.Store.CreateCampaign(r.Context(), state.Campaign{ID: c.ID, Name: c.Name, Draft: doc, CreatedAt: s.o.Now()})
	if err != nil {
		return storeError(err, "campaign "+c.ID)
	}
	w.Header().Set("Location", "/v1/campaigns/"+rec.ID)
	writeJSON(w, http.StatusCreated, withDiags(view(rec, true)))
	return nil
}

func (s *Server) getCampaign(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	c, err := s.o.Store.GetCampaign(r.Context(), id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	writeJSON(w, http.StatusOK, s.withUpcoming(r.Context(), view(c, true), c))
	return nil
}

// withUpcoming adds a scheduled or live campaign's next launches to its view.
// A schedule the scheduler cannot read shows none (publishing checked it).
func (s *Server) withUpcoming(ctx context.Context, v CampaignView, c state.Campaign) CampaignView {
	if c.Schedule == nil || c.PublishedVersion == 0 || (c.Status != state.CampaignScheduled && c.Status != state.CampaignLive) {
		return v
	}
	ver, err := s.o.Store.GetVersion(ctx, c.ID, c.PublishedVersion)
	if err != nil {
		return v
	}
	v.Upcoming, _ = scheduler.Upcoming(*c.Schedule, ver.CreatedAt, s.o.Now(), 3)
	return v
}

func (s *Server) listCampaigns(w http.ResponseWriter, r *http.Request) *Error {
	status := r.URL.Query().Get("status")
	if status != "" && !state.CampaignStatus(status).Valid() {
		return fail(http.StatusBadRequest, codeInvalid, "unknown status %q", trunc(status, 40)).at("query.status")
	}
	cs, err := s.o.Store.ListCampaigns(r.Context())
	if err != nil {
		return storeError(err, "campaigns")
	}
	out := CampaignList{Campaigns: []CampaignView{}}
	for _, c := range cs {
		if status == "" || string(c.Status) == status {
			out.Campaigns = append(out.Campaigns, s.withUpcoming(r.Context(), view(c, false), c))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) updateCampaign(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	var in CampaignInput
	if e := decodeJSON(r, &in, false); e != nil {
		return e
	}
	doc, e := readDocument(in)
	if e != nil {
		return e
	}
	cur, err := s.o.Store.GetCampaign(r.Context(), id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	if cur.Status != state.CampaignDraft {
		return refused(cur, "update", "published versions are immutable: only a draft is edited (duplicate the campaign, or take it back to draft)")
	}
	if in.Rev != 0 && in.Rev != cur.Rev {
		return fail(http.StatusConflict, codeConflict, "campaign %s is at revision %d, not %d; read it again", id, cur.Rev, in.Rev).at("$.rev")
	}
	c, diags := parseDoc(id, doc)
	if c == nil || diags.HasErrors() {
		return invalidCampaign(diags)
	}
	if c.ID != id {
		return fail(http.StatusUnprocessableEntity, codeCampaign, "the document's id %q is not the campaign's id %q; duplicate to change an id", c.ID, id).at("$.id")
	}
	withDiags, e := s.diagnose(r.Context(), id, doc)
	if e != nil {
		return e
	}
	cur.Name, cur.Draft, cur.UpdatedAt = c.Name, doc, s.o.Now()
	rec, err := s.o.Store.UpdateCampaign(r.Context(), cur)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	writeJSON(w, http.StatusOK, withDiags(view(rec, true)))
	return nil
}

func (s *Server) deleteCampaign(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	cur, err := s.o.Store.GetCampaign(r.Context(), id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	if cur.Status != state.CampaignDraft {
		return refused(cur, "delete", "only a draft is deleted; archive it instead")
	}
	if err := s.o.Store.DeleteCampaign(r.Context(), id); err != nil {
		if errors.Is(err, state.ErrConflict) {
			return fail(http.StatusConflict, codeLifecycle, "campaign %s is no longer a draft", id)
		}
		return storeError(err, "campaign "+id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) duplicateCampaign(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	var in DuplicateInput
	if e := decodeJSON(r, &in, true); e != nil {
		return e
	}
	if in.ID == "" {
		in.ID = strings.TrimRight(trunc(id, 59), "-…") + "-copy"
	}
	if !campaign.ValidCampaignID(in.ID) {
		return fail(http.StatusBadRequest, codeInvalidID, "campaign id %q must match [a-z0-9-]{1,64}", trunc(in.ID, 80)).at("$.id")
	}
	cur, err := s.o.Store.GetCampaign(r.Context(), id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	doc, err := replaceID(cur.Draft, in.ID)
	if err != nil {
		return fail(http.StatusConflict, codeConflict, "cannot duplicate campaign %s: %v", id, err)
	}
	rec, err := s.o.Store.CreateCampaign(r.Context(), state.Campaign{ID: in.ID, Name: cur.Name, Draft: doc, CreatedAt: s.o.Now()})
	if err != nil {
		return storeError(err, "campaign "+in.ID)
	}
	w.Header().Set("Location", "/v1/campaigns/"+rec.ID)
	writeJSON(w, http.StatusCreated, view(rec, true))
	return nil
}

// replaceID rewrites the top-level id of a YAML or JSON document in place, keeping
// the rest of the text (comments, layout) as written.
func replaceID(doc []byte, id string) ([]byte, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("its draft does not parse")
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != "id" || m.Content[i+1].Kind != yaml.ScalarNode {
			continue
		}
		v := m.Content[i+1]
		lines := bytes.SplitAfter(doc, []byte("\n"))
		if v.Line < 1 || v.Line > len(lines) {
			break
		}
		off := 0
		for _, l := range lines[:v.Line-1] {
			off += len(l)
		}
		line := string(lines[v.Line-1])
		col := len(string([]rune(line)[:min(v.Column-1, len([]rune(line)))]))
		start := off + col
		raw := v.Value
		switch v.Style {
		case yaml.DoubleQuotedStyle:
			raw = `"` + raw + `"`
		case yaml.SingleQuotedStyle:
			raw = "'" + raw + "'"
		}
		if !bytes.HasPrefix(doc[start:], []byte(raw)) {
			return nil, fmt.Errorf("its id is not written plainly")
		}
		repl := id
		if v.Style == yaml.DoubleQuotedStyle || v.Style == yaml.SingleQuotedStyle {
			repl = raw[:1] + id + raw[:1]
		}
		out := append(append(append([]byte{}, doc[:start]...), repl...), doc[start+len(raw):]...)
		return out, nil
	}
	return nil, fmt.Errorf("its draft has no id")
}
