package activity

import (
	"fmt"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// Compiled is a campaign as handlers see it: its runtime plan, loaded and
// checked against its digest, with the configs of the registered types decoded.
type Compiled struct {
	Campaign *campaign.Campaign
	Catalog  *campaign.Catalog
	// Files holds the bundle's files by path relative to the campaign file.
	Files map[string][]byte
	// Ports holds each activity's declared ports, in order.
	Ports map[string][]string
	// Schemas holds the schema of each activity port: Schemas[id][port].
	Schemas map[string]map[string]campaign.Schema
	// Digest identifies the plan.
	Digest string
	// States maps the emitted state names to their activities.
	States plan.States
}

// Config returns an activity and its decoded config.
func (c *Compiled) Config(id string) (*campaign.Activity, any, bool) {
	a, ok := c.Campaign.Activity(id)
	if !ok || a.Config == nil {
		return nil, nil, false
	}
	return a, a.Config, true
}

// FromPlan makes the Compiled of a checked plan: it parses the campaign and
// decodes, with the decoder that validated them, the configs of the types in
// reg (the others stay nil). It neither checks nor reads table sources.
func FromPlan(l *plan.Loaded, reg *Registry) (*Compiled, error) {
	p, where, digest := l.Plan, l.Where, l.Digest
	file := p.CampaignFile
	if where.CampaignDir != "" {
		file = filepath.Join(where.CampaignDir, p.CampaignFile)
	}
	c, diags := campaign.ParseCampaign(file, p.Campaign)
	if !diags.HasErrors() {
		d := campaign.NewDecoder(c.Src, &diags)
		for i := range c.Activities {
			a := &c.Activities[i]
			if spec, ok := reg.Lookup(a.Type); ok {
				cfg := spec.NewConfig()
				d.DecodeSkipping(a.Node, a.Path(), cfg, campaign.CommonKeys)
				a.Config = cfg
			}
		}
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("plan %s does not decode: %v", digest, diags)
	}
	cat := *p.Catalog
	cat.File = filepath.Join(where.CatalogDir, "catalog.yaml")
	ports, schemas := map[string][]string{}, map[string]map[string]campaign.Schema{}
	for _, a := range p.Activities {
		ports[a.ID], schemas[a.ID] = a.Ports, a.Schemas
	}
	return &Compiled{Campaign: c, Catalog: &cat, Files: p.Files, Ports: ports, Schemas: schemas, Digest: digest, States: l.States}, nil
}
