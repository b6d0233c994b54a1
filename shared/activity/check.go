package activity

import (
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Check is what a spec's Check and Output see.
type Check struct {
	campaign.Reporter
	Catalog  *campaign.Catalog
	Campaign *campaign.Campaign
	Activity *campaign.Activity
	// Inputs are the schemas of the inbound populations, in `from` order
	// (nil entries for transitions whose schema is unknown).
	Inputs []campaign.Schema
	// Dimension is the activity's default dimension (the campaign's).
	Dimension string
	// Audiences known to exist (saved by this campaign), for read-audience.
	Audiences map[string]campaign.Schema
	// Condition checks a condition against a population schema (set by the compiler).
	Condition func(path string, cond *condition.Condition, s campaign.Schema)
	// TestCondition checks a test-activity condition on run facts.
	TestCondition func(path string, cond *condition.Condition)
	// Template checks a Liquid template and the names it uses against the
	// recipient schema (set by the compiler).
	Template func(path, source string, recipient campaign.Schema)
}

// CheckCondition checks cond when a checker is configured.
func (c *Check) CheckCondition(path string, cond *condition.Condition, s campaign.Schema) {
	if cond != nil && c.Condition != nil {
		c.Condition(path, cond, s)
	}
}

// Path returns the diagnostic path of a config field of the activity.
func (c *Check) Path(elems ...any) string {
	p := c.Activity.Path()
	for _, e := range elems {
		p = campaign.JoinPath(p, e)
	}
	return p
}

// Order is one sort key.
type Order struct {
	Field string `json:"field" jsonschema:"required"`
	Desc  bool   `json:"desc,omitempty"`
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
