package api

import (
	"net/http"
	"slices"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
)

// AudienceDetail is a saved audience: every version, newest first (the first
// is current), and the campaigns whose documents read or save it.
type AudienceDetail struct {
	Name      string           `json:"name"`
	Versions  []state.Audience `json:"versions"`
	Campaigns []AudienceUse    `json:"campaigns"`
}

// AudienceUse is a campaign that reads the audience (read-audience) or saves
// it (save-audience), in its draft or its latest published version.
type AudienceUse struct {
	CampaignID string   `json:"campaignId"`
	Name       string   `json:"name,omitempty"`
	Status     string   `json:"status"`
	Reads      []string `json:"reads,omitempty" jsonschema:"description=its read-audience activities"`
	Saves      []string `json:"saves,omitempty" jsonschema:"description=its save-audience activities"`
}

// audienceName is what the audience routes accept: save-audience's names.
func audienceName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func (s *Server) getAudience(w http.ResponseWriter, r *http.Request) *Error {
	name := r.PathValue("name")
	if !audienceName(name) {
		return fail(http.StatusBadRequest, codeInvalidID, "audience name %q must match [a-zA-Z0-9_-]{1,64}", trunc(name, 80))
	}
	ctx := r.Context()
	vs, err := s.o.Store.AudienceHistory(ctx, name)
	if err == nil && len(vs) == 0 {
		err = state.ErrNotFound
	}
	if err != nil {
		return storeError(err, "audience "+name)
	}
	cs, err := s.o.Store.ListCampaigns(ctx)
	if err != nil {
		return storeError(err, "campaigns")
	}
	out := AudienceDetail{Name: name, Versions: vs, Campaigns: []AudienceUse{}}
	for _, c := range cs {
		use := AudienceUse{CampaignID: c.ID, Name: c.Name, Status: string(c.Status)}
		docs := [][]byte{c.Draft}
		if c.PublishedVersion > 0 {
			if v, err := s.o.Store.GetVersion(ctx, c.ID, c.PublishedVersion); err == nil {
				docs = append(docs, v.Document)
			}
		}
		for _, doc := range docs {
			audienceUses(c.ID, doc, name, &use)
		}
		if len(use.Reads)+len(use.Saves) > 0 {
			out.Campaigns = append(out.Campaigns, use)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// audienceUses adds the activities of a document that read or save the audience.
func audienceUses(id string, doc []byte, name string, use *AudienceUse) {
	c, _ := campaign.ParseCampaign(docName(id, doc), doc)
	if c == nil {
		return
	}
	for _, a := range c.Activities {
		if a.Type != "read-audience" && a.Type != "save-audience" || a.Node == nil {
			continue
		}
		var x struct {
			Audience string `yaml:"audience"`
		}
		if a.Node.Decode(&x) != nil || x.Audience != name {
			continue
		}
		list := &use.Reads
		if a.Type == "save-audience" {
			list = &use.Saves
		}
		if !slices.Contains(*list, a.ID) {
			*list = append(*list, a.ID)
		}
	}
}
