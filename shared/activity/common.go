package activity

import (
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Order is one sort key.
type Order struct {
	Field string `json:"field" jsonschema:"required"`
	Desc  bool   `json:"desc,omitempty"`
}

// Fixed returns a Ports function for a fixed port list.
func Fixed[C any](ports ...string) func(*C) []string {
	return func(*C) []string { return ports }
}

// Input returns the i-th inbound schema, or a zero schema.
func (c *Check) Input(i int) campaign.Schema {
	if i < len(c.Inputs) {
		return c.Inputs[i]
	}
	return campaign.Schema{}
}

// RequireColumns reports each name that is not a column of s.
func (c *Check) RequireColumns(s campaign.Schema, names []string, path string) {
	for i, n := range names {
		c.RequireColumn(s, n, campaign.JoinPath(path, i))
	}
}

// RequireColumn reports name if it is not a column of s.
func (c *Check) RequireColumn(s campaign.Schema, name, path string) (campaign.Column, bool) {
	col, ok := s.Column(name)
	if !ok && len(s.Columns) > 0 {
		c.Errorf(path, "unknown column %q in %s%s", name, s, didYouMeanOrList(name, s.ColumnNames()))
	}
	return col, ok
}

// RequireOrder checks sort keys against s.
func (c *Check) RequireOrder(s campaign.Schema, order []Order, path string) {
	for i, o := range order {
		c.RequireColumn(s, o.Field, campaign.JoinPath(campaign.JoinPath(path, i), "field"))
	}
}

// DimensionTable resolves a dimension name (default: the campaign's) to a
// catalog table, reporting unknown names.
func (c *Check) DimensionTable(name, path string) (*campaign.Table, bool) {
	if name == "" && c.Dimension != "" { // inherited: a wrong one is the campaign's, reported at its key
		name, path = c.Dimension, "dimension"
	}
	if name == "" {
		c.Errorf(path, "no dimension: set `dimension` here or on the campaign")
		return nil, false
	}
	t, ok := c.Catalog.Table(name)
	if !ok {
		c.Errorf(path, "unknown table %q%s", name, didYouMeanOrList(name, c.Catalog.TableNames()))
	}
	return t, ok
}

// OneOf reports v when it is not one of valid.
func (c *Check) OneOf(v, path, what string, valid ...string) bool {
	for _, x := range valid {
		if v == x {
			return true
		}
	}
	c.Errorf(path, "unknown %s %q%s; valid: %s", what, v, campaign.DidYouMean(v, valid), strings.Join(valid, ", "))
	return false
}

func didYouMeanOrList(name string, valid []string) string {
	if s := campaign.DidYouMean(name, valid); s != "" {
		return s
	}
	if len(valid) > 0 && len(valid) <= 15 {
		return "; valid: " + strings.Join(valid, ", ")
	}
	return ""
}

// SameInput passes the first inbound schema through to every port.
func SameInput[C any](ports ...string) func(*Check, *C, []campaign.Schema) map[string]campaign.Schema {
	return func(_ *Check, _ *C, in []campaign.Schema) map[string]campaign.Schema {
		out := map[string]campaign.Schema{}
		var s campaign.Schema
		if len(in) > 0 {
			s = in[0]
		}
		for _, p := range ports {
			out[p] = s
		}
		return out
	}
}
