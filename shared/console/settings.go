package console

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Specs finds activity types' specs: their describers say a config in plain
// words (an *activity.Registry).
type Specs interface {
	Lookup(typ string) (*activity.Spec, bool)
}

// setting is one key of an activity's config, as text, for types without a describer.
type setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// settings says what an activity of the campaign is set to do: in words from
// its type's describer when it has one and the config decodes, else its keys
// and values as written.
func (c *Console) settings(cmp *campaign.Campaign, id string) (words []string, keys []setting) {
	if cmp == nil {
		return nil, nil
	}
	var a *campaign.Activity
	for i := range cmp.Activities {
		if cmp.Activities[i].ID == id {
			a = &cmp.Activities[i]
		}
	}
	if a == nil || a.Node == nil {
		return nil, nil
	}
	if c.o.Specs != nil {
		if spec, ok := c.o.Specs.Lookup(a.Type); ok {
			cfg := spec.NewConfig()
			var diags campaign.Diagnostics
			(&campaign.Decoder{Reporter: campaign.Reporter{Diags: &diags}}).DecodeSkipping(a.Node, a.Path(), cfg, campaign.CommonKeys)
			if !diags.HasErrors() {
				if lines, ok := spec.Describe(cmp, a, cfg); ok {
					return lines, nil
				}
			}
		}
	}
	n := a.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; !campaign.CommonKeys[k] {
			keys = append(keys, setting{Key: k, Value: text(n.Content[i+1])})
		}
	}
	return nil, keys
}

// text writes a YAML value on one line a list item: "name: city, field: store.city".
func text(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.AliasNode:
		if n.Alias != nil {
			return text(n.Alias)
		}
	case yaml.SequenceNode:
		var items []string
		nested := false
		for _, c := range n.Content {
			items = append(items, text(c))
			nested = nested || c.Kind != yaml.ScalarNode
		}
		if nested {
			return strings.Join(items, "\n")
		}
		return strings.Join(items, ", ")
	case yaml.MappingNode:
		var parts []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := text(n.Content[i+1])
			if n.Content[i+1].Kind == yaml.MappingNode {
				v = "(" + v + ")"
			}
			parts = append(parts, n.Content[i].Value+": "+strings.ReplaceAll(v, "\n", "; "))
		}
		return strings.Join(parts, ", ")
	}
	return ""
}
