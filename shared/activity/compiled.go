package activity

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// Compiled is a campaign as handlers see it: its runtime plan, loaded and
// checked against its digest. Configs are decoded on first use (a task
// reads one); safe for concurrent use.
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

	mu     sync.Mutex
	decode func(a *campaign.Activity) (any, error) // nil: configs are decoded
}

// Config returns an activity and its decoded config; ok is false when the
// activity does not exist, its type is not one this process registered, or
// its config does not decode (Decoded says why).
func (c *Compiled) Config(id string) (*campaign.Activity, any, bool) {
	a, cfg, err := c.Decoded(id)
	return a, cfg, err == nil && cfg != nil
}

// Decoded returns an activity and its config, decoding it on first use; the
// config is nil for a type this process did not register.
func (c *Compiled) Decoded(id string) (*campaign.Activity, any, error) {
	a, ok := c.Campaign.Activity(id)
	if !ok {
		return nil, nil, fmt.Errorf("campaign %s has no activity %q", c.Campaign.ID, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a.Config == nil && c.decode != nil {
		cfg, err := c.decode(a)
		if err != nil {
			return a, nil, err
		}
		a.Config = cfg
	}
	return a, a.Config, nil
}

// FromPlan makes the Compiled of a checked plan: it parses the campaign;
// Config decodes an activity's config, of a type in reg, with the decoder
// that validated it. It neither checks nor reads table sources.
func FromPlan(l *plan.Loaded, reg *Registry) (*Compiled, error) {
	p, where, digest := l.Plan, l.Where, l.Digest
	file := p.CampaignFile
	if where.CampaignDir != "" {
		file = filepath.Join(where.CampaignDir, p.CampaignFile)
	}
	c, diags := campaign.ParseCampaign(file, []byte(p.Campaign))
	if diags.HasErrors() {
		return nil, fmt.Errorf("plan %s does not parse: %v", digest, diags)
	}
	cat := *p.Catalog
	cat.File = filepath.Join(where.CatalogDir, "catalog.yaml")
	comp := &Compiled{Campaign: c, Catalog: &cat, Files: p.Files, Ports: map[string][]string{},
		Schemas: map[string]map[string]campaign.Schema{}, Digest: digest, States: l.States}
	for i := range p.Activities {
		a := &p.Activities[i]
		s, err := p.PortSchemas(a)
		if err != nil {
			return nil, fmt.Errorf("plan %s: %w", digest, err)
		}
		comp.Ports[a.ID], comp.Schemas[a.ID] = a.Ports, s
	}
	comp.decode = func(a *campaign.Activity) (any, error) {
		spec, ok := reg.Lookup(a.Type)
		if !ok {
			return nil, nil
		}
		var diags campaign.Diagnostics
		cfg := spec.NewConfig()
		campaign.NewDecoder(c.Src, &diags).DecodeSkipping(a.Node, a.Path(), cfg, campaign.CommonKeys)
		if diags.HasErrors() {
			return nil, fmt.Errorf("plan %s: %s does not decode: %v", digest, a.ID, diags)
		}
		return cfg, nil
	}
	return comp, nil
}
