// Package targeting holds the targeting activity types: build-audience,
// read-audience, incremental-query, change-dimension, combine,
// deduplication, enrichment, split, reconciliation, save-audience.
package targeting

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Register adds the targeting types to r.
func Register(r *activity.Registry) {
	r.Register(BuildAudience, ReadAudience, IncrementalQuery, ChangeDimension, Combine,
		Deduplication, Enrichment, Split, Reconciliation, SaveAudience)
}

// BuildAudienceConfig selects rows of a dimension with a condition.
type BuildAudienceConfig struct {
	Dimension   string               `json:"dimension,omitempty"`
	Where       *condition.Condition `json:"where,omitempty" jsonschema:"description=rows to keep; absent keeps every row"`
	EmptyOutput *bool                `json:"emptyOutput,omitempty" jsonschema:"description=activate the output when no row matches (default true)"`
}

// BuildAudience is the build-audience type.
var BuildAudience = &activity.Spec{
	Type: "build-audience", Family: activity.Targeting, Function: "BuildAudience",
	Summary:   "Rows of a dimension that match a condition.",
	NewConfig: func() any { return &BuildAudienceConfig{} },
	Inputs:    activity.Inputs{ReadsOwnData: true},
	Ports:     activity.Out,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*BuildAudienceConfig)
		if t, ok := c.DimensionTable(x.Dimension, c.Path("dimension")); ok {
			c.CheckCondition(c.Path("where"), x.Where, t.Schema())
		}
	},
	Output: dimensionOutput(func(cfg any) string { return cfg.(*BuildAudienceConfig).Dimension }),
}

// ReadAudienceConfig reads a saved audience.
type ReadAudienceConfig struct {
	Audience string `json:"audience" jsonschema:"required"`
}

// ReadAudience is the read-audience type.
var ReadAudience = &activity.Spec{
	Type: "read-audience", Family: activity.Targeting, Function: "ReadAudience",
	Summary:   "The current version of a saved audience.",
	NewConfig: func() any { return &ReadAudienceConfig{} },
	Inputs:    activity.Inputs{ReadsOwnData: true},
	Ports:     activity.Out,
	Output: func(c *activity.Check, cfg any, _ []campaign.Schema) map[string]campaign.Schema {
		x := cfg.(*ReadAudienceConfig)
		if s, ok := c.Audiences[x.Audience]; ok {
			return map[string]campaign.Schema{"out": s}
		}
		// Saved by another campaign: the schema is known only at run time.
		return map[string]campaign.Schema{"out": {Dimension: c.Dimension}}
	},
}

// Since selects what incremental-query returns on each run.
type Since struct {
	Field           string `json:"field,omitempty" jsonschema:"description=date or timestamp column: rows newer than the previous run's high-water mark"`
	ExcludePrevious bool   `json:"excludePrevious,omitempty" jsonschema:"description=rows not returned by earlier runs"`
	HistoryDays     int    `json:"historyDays,omitempty" jsonschema:"description=how long returned keys are remembered; 0 = forever"`
}

// IncrementalQueryConfig is build-audience that returns only new rows.
type IncrementalQueryConfig struct {
	Dimension string               `json:"dimension,omitempty"`
	Where     *condition.Condition `json:"where,omitempty"`
	Since     Since                `json:"since" jsonschema:"required"`
}

// IncrementalQuery is the incremental-query type.
var IncrementalQuery = &activity.Spec{
	Type: "incremental-query", Family: activity.Targeting, Function: "IncrementalQuery",
	Summary:   "Rows matching a condition that earlier runs did not return.",
	NewConfig: func() any { return &IncrementalQueryConfig{} },
	Inputs:    activity.Inputs{ReadsOwnData: true},
	Ports:     activity.Out,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*IncrementalQueryConfig)
		t, ok := c.DimensionTable(x.Dimension, c.Path("dimension"))
		if !ok {
			return
		}
		c.CheckCondition(c.Path("where"), x.Where, t.Schema())
		sp := c.Path("since")
		switch {
		case x.Since.Field != "" && x.Since.ExcludePrevious:
			c.Errorf(sp, "since takes either field or excludePrevious, not both")
		case x.Since.Field != "":
			if col, ok := c.RequireColumn(t.Schema(), x.Since.Field, campaign.JoinPath(sp, "field")); ok && col.Type != campaign.TypeDate && col.Type != campaign.TypeTimestamp {
				c.Errorf(campaign.JoinPath(sp, "field"), "since.field %q must be a date or timestamp column, not %s", x.Since.Field, col.Type)
			}
		case x.Since.ExcludePrevious:
		default:
			c.Errorf(sp, "since needs field (a date high-water mark) or excludePrevious: true")
		}
		if x.Since.HistoryDays < 0 {
			c.Errorf(campaign.JoinPath(sp, "historyDays"), "historyDays must be 0 (forever) or more")
		}
	},
	Output: dimensionOutput(func(cfg any) string { return cfg.(*IncrementalQueryConfig).Dimension }),
}

// ChangeDimensionConfig pivots a population to another dimension through a link.
type ChangeDimensionConfig struct {
	To   string `json:"to" jsonschema:"required"`
	Via  string `json:"via" jsonschema:"required,description=link of the input dimension leading to the target table"`
	Keep string `json:"keep,omitempty" jsonschema:"enum=all,enum=first"`
}

// ChangeDimension is the change-dimension type.
var ChangeDimension = &activity.Spec{
	Type: "change-dimension", Family: activity.Targeting, Function: "ChangeDimension",
	Summary:   "The linked rows of another dimension.",
	NewConfig: func() any { return &ChangeDimensionConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     activity.Out,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*ChangeDimensionConfig)
		if x.Keep != "" {
			c.OneOf(x.Keep, c.Path("keep"), "keep", "all", "first")
		}
		to, ok := c.DimensionTable(x.To, c.Path("to"))
		in := c.Input(0)
		from, fok := c.Catalog.Table(in.Dimension)
		if !ok || !fok {
			if !fok && in.Dimension == "" && len(c.Inputs) > 0 {
				c.Errorf(c.Path("from"), "change-dimension needs a population of a catalog table, not file rows (use reconciliation first)")
			}
			return
		}
		l, ok := from.Link(x.Via)
		if !ok {
			c.Errorf(c.Path("via"), "unknown link %q of %q%s", x.Via, from.Name, campaign.DidYouMean(x.Via, from.LinkNames()))
			return
		}
		if l.Table != to.Name {
			c.Errorf(c.Path("via"), "link %q of %q leads to %q, not %q", x.Via, from.Name, l.Table, to.Name)
		}
	},
	Output: func(c *activity.Check, cfg any, _ []campaign.Schema) map[string]campaign.Schema {
		return tableOutput(c, cfg.(*ChangeDimensionConfig).To, "out")
	},
}

// CombineConfig combines several populations as sets.
type CombineConfig struct {
	Operation  string   `json:"operation" jsonschema:"required,enum=union,enum=intersection,enum=exclusion"`
	Key        []string `json:"key,omitempty" jsonschema:"description=columns rows are matched on; default the dimension's key"`
	Complement bool     `json:"complement,omitempty"`
}

// Combine is the combine type.
var Combine = &activity.Spec{
	Type: "combine", Family: activity.Targeting, Function: "Combine",
	Summary:   "Union, intersection or exclusion of several populations.",
	NewConfig: func() any { return &CombineConfig{} },
	Inputs:    activity.Inputs{Min: 2, SameDimension: true},
	Ports: func(cfg any) []string {
		if cfg.(*CombineConfig).Complement {
			return []string{"out", "complement"}
		}
		return []string{"out"}
	},
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*CombineConfig)
		c.OneOf(x.Operation, c.Path("operation"), "operation", "union", "intersection", "exclusion")
		if x.Complement && x.Operation == "union" {
			c.Errorf(c.Path("complement"), "a union has no complement; complement applies to intersection and exclusion")
		}
		keys := x.Key
		if len(keys) == 0 {
			if t, ok := c.Catalog.Table(c.Input(0).Dimension); ok {
				keys = t.Key
			} else if len(c.Inputs) > 0 {
				c.Errorf(c.Path("key"), "file rows have no dimension key: set key")
			}
		}
		for i, in := range c.Inputs {
			c.RequireColumns(in, keys, c.Path("key"))
			_ = i
		}
	},
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		var s campaign.Schema
		if len(in) > 0 {
			s = in[0]
		}
		return map[string]campaign.Schema{"out": s, "complement": s}
	},
}

// DedupConfig keeps at most Keep rows per group of equal By columns.
type DedupConfig struct {
	By         []string         `json:"by" jsonschema:"required"`
	Keep       *int             `json:"keep,omitempty" jsonschema:"description=rows kept per group; 0 keeps all; default 1"`
	Method     string           `json:"method,omitempty" jsonschema:"enum=random,enum=first,enum=nonEmpty,enum=values"`
	OrderBy    []activity.Order `json:"orderBy,omitempty"`
	Field      string           `json:"field,omitempty" jsonschema:"description=for nonEmpty and values"`
	Values     []any            `json:"values,omitempty" jsonschema:"description=preferred values of field, best first (method values)"`
	Complement bool             `json:"complement,omitempty"`
}

// KeepN returns the rows to keep per group (default 1).
func (x *DedupConfig) KeepN() int {
	if x.Keep == nil {
		return 1
	}
	return *x.Keep
}

// Deduplication is the deduplication type.
var Deduplication = &activity.Spec{
	Type: "deduplication", Family: activity.Targeting, Function: "Deduplication",
	Summary:   "At most N rows per group of equal values.",
	NewConfig: func() any { return &DedupConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports: func(cfg any) []string {
		if cfg.(*DedupConfig).Complement {
			return []string{"out", "duplicates"}
		}
		return []string{"out"}
	},
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*DedupConfig)
		in := c.Input(0)
		if len(x.By) == 0 {
			c.Errorf(c.Path("by"), "by needs at least one column")
		}
		c.RequireColumns(in, x.By, c.Path("by"))
		if x.KeepN() < 0 {
			c.Errorf(c.Path("keep"), "keep must be 0 (all) or more")
		}
		method := x.Method
		if method == "" {
			method = "random"
		}
		if !c.OneOf(method, c.Path("method"), "method", "random", "first", "nonEmpty", "values") {
			return
		}
		switch method {
		case "first":
			if len(x.OrderBy) == 0 {
				c.Errorf(c.Path("orderBy"), "method first needs orderBy")
			}
			c.RequireOrder(in, x.OrderBy, c.Path("orderBy"))
		case "nonEmpty", "values":
			if x.Field == "" {
				c.Errorf(c.Path("field"), "method %s needs field", method)
			} else {
				c.RequireColumn(in, x.Field, c.Path("field"))
			}
			if method == "values" && len(x.Values) == 0 {
				c.Errorf(c.Path("values"), "method values needs a list of preferred values")
			}
			c.RequireOrder(in, x.OrderBy, c.Path("orderBy"))
		}
	},
	Output: activity.SameInput("out", "duplicates"),
}

// Addition is one column added by enrichment.
type Addition struct {
	Name      string               `json:"name" jsonschema:"required"`
	Field     string               `json:"field,omitempty" jsonschema:"description=column, or link.column through one-links"`
	Link      string               `json:"link,omitempty"`
	Aggregate string               `json:"aggregate,omitempty" jsonschema:"enum=count,enum=countDistinct,enum=sum,enum=avg,enum=min,enum=max"`
	Where     *condition.Condition `json:"where,omitempty"`
	Collect   int                  `json:"collect,omitempty" jsonschema:"description=first N linked rows as columns <name>1<Field>..."`
	Fields    []string             `json:"fields,omitempty"`
	OrderBy   []activity.Order     `json:"orderBy,omitempty"`
	Join      string               `json:"join,omitempty" jsonschema:"description=another inbound activity (id) to take the value from"`
	On        map[string]string    `json:"on,omitempty" jsonschema:"description=this population's column: the joined population's column"`
}

// EnrichmentConfig adds columns to a population.
type EnrichmentConfig struct {
	Add []Addition `json:"add" jsonschema:"required"`
}

// Enrichment is the enrichment type.
var Enrichment = &activity.Spec{
	Type: "enrichment", Family: activity.Targeting, Function: "Enrichment",
	Summary:   "Adds attributes, aggregates and collected rows of linked data.",
	NewConfig: func() any { return &EnrichmentConfig{} },
	Inputs:    activity.Inputs{Min: 1},
	Ports:     activity.Out,
	Check:     checkEnrichment,
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		var s campaign.Schema
		if len(in) > 0 {
			s = in[0]
		}
		cols, _ := enrichmentColumns(c, cfg.(*EnrichmentConfig), in, false)
		return map[string]campaign.Schema{"out": s.With(cols...)}
	},
}

// Segment is one split segment.
type Segment struct {
	Name      string               `json:"name" jsonschema:"required"`
	Where     *condition.Condition `json:"where,omitempty"`
	Code      string               `json:"code,omitempty"`
	Limit     *Limit               `json:"limit,omitempty"`
	SkipEmpty bool                 `json:"skipEmpty,omitempty"`
}

// Limit caps a segment's size.
type Limit struct {
	Count   *int64           `json:"count,omitempty"`
	Percent *float64         `json:"percent,omitempty"`
	OrderBy []activity.Order `json:"orderBy,omitempty"`
	Random  bool             `json:"random,omitempty"`
}

// SplitConfig splits a population into ordered segments.
type SplitConfig struct {
	Segments []Segment `json:"segments" jsonschema:"required"`
	Others   bool      `json:"others,omitempty"`
	Overlap  bool      `json:"overlap,omitempty"`
	Single   bool      `json:"single,omitempty"`
}

// Split is the split type.
var Split = &activity.Spec{
	Type: "split", Family: activity.Targeting, Function: "Split",
	Summary:   "Ordered segments with conditions and limits.",
	NewConfig: func() any { return &SplitConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports: func(cfg any) []string {
		x := cfg.(*SplitConfig)
		if x.Single {
			return []string{"out"}
		}
		var ports []string
		for _, s := range x.Segments {
			ports = append(ports, s.Name)
		}
		if x.Others {
			ports = append(ports, "others")
		}
		return ports
	},
	Check: checkSplit,
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		x := cfg.(*SplitConfig)
		var s campaign.Schema
		if len(in) > 0 {
			s = in[0]
		}
		out := map[string]campaign.Schema{}
		if x.Single {
			out["out"] = s.With(campaign.Column{Name: "segmentCode", Type: campaign.TypeString})
			return out
		}
		for _, seg := range x.Segments {
			out[seg.Name] = s
		}
		out["others"] = s
		return out
	},
}

// Match pairs an input column with a dimension column.
type Match struct {
	Input string `json:"input" jsonschema:"required"`
	Field string `json:"field" jsonschema:"required"`
}

// ReconciliationConfig identifies file rows as rows of a dimension.
type ReconciliationConfig struct {
	Dimension     string               `json:"dimension,omitempty"`
	Match         []Match              `json:"match,omitempty"`
	Where         *condition.Condition `json:"where,omitempty" jsonschema:"description=match condition on the dimension, with {field: inputColumn} values"`
	KeepUnmatched bool                 `json:"keepUnmatched,omitempty"`
}

// Reconciliation is the reconciliation type.
var Reconciliation = &activity.Spec{
	Type: "reconciliation", Family: activity.Targeting, Function: "Reconciliation",
	Summary:   "Identifies rows (of a file) as rows of a dimension.",
	NewConfig: func() any { return &ReconciliationConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports: func(cfg any) []string {
		if cfg.(*ReconciliationConfig).KeepUnmatched {
			return []string{"out", "unmatched"}
		}
		return []string{"out"}
	},
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*ReconciliationConfig)
		t, ok := c.DimensionTable(x.Dimension, c.Path("dimension"))
		if len(x.Match) == 0 && x.Where == nil {
			c.Errorf(c.Path("match"), "reconciliation needs match pairs or a where condition")
		}
		in := c.Input(0)
		for i, m := range x.Match {
			mp := campaign.JoinPath(c.Path("match"), i)
			ic, iok := c.RequireColumn(in, m.Input, campaign.JoinPath(mp, "input"))
			if !ok {
				continue
			}
			tc, tok := c.RequireColumn(t.Schema(), m.Field, campaign.JoinPath(mp, "field"))
			if iok && tok && ic.Type != tc.Type {
				c.Errorf(mp, "cannot match %s column %q with %s column %q", ic.Type, m.Input, tc.Type, m.Field)
			}
		}
		if ok && x.Where != nil {
			// {field: x} values in the match condition name input columns.
			c.CheckCondition(c.Path("where"), x.Where, t.Schema().With(in.Columns...))
		}
	},
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		x := cfg.(*ReconciliationConfig)
		out := tableOutput(c, x.Dimension, "out")
		if len(in) > 0 {
			out["out"] = reconciledSchema(out["out"], in[0])
			out["unmatched"] = in[0].With(campaign.Column{Name: "reason", Type: campaign.TypeString})
		}
		return out
	},
}

// reconciledSchema is the dimension's columns followed by the input's
// columns that the dimension does not have.
func reconciledSchema(dim, in campaign.Schema) campaign.Schema {
	if len(dim.Columns) == 0 {
		return dim // columns known only at run time
	}
	out := campaign.Schema{Dimension: dim.Dimension, Columns: append([]campaign.Column(nil), dim.Columns...)}
	for _, c := range in.Columns {
		if _, ok := dim.Column(c.Name); !ok {
			out.Columns = append(out.Columns, c)
		}
	}
	return out
}

// SaveAudienceConfig saves a population as a named audience.
type SaveAudienceConfig struct {
	Audience string   `json:"audience" jsonschema:"required"`
	Fields   []string `json:"fields,omitempty" jsonschema:"description=columns kept besides the key; default all"`
}

// AudienceName lets read-audience in the same campaign know the schema.
func (x *SaveAudienceConfig) AudienceName() string { return x.Audience }

// SaveAudience is the save-audience type.
var SaveAudience = &activity.Spec{
	Type: "save-audience", Family: activity.Targeting, Function: "SaveAudience",
	Summary:   "Saves the population as a new version of a named audience.",
	NewConfig: func() any { return &SaveAudienceConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     activity.Out,
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*SaveAudienceConfig)
		if !audienceNameRe(x.Audience) {
			c.Errorf(c.Path("audience"), "audience name %q must match [a-zA-Z0-9_-]{1,64}", x.Audience)
		}
		c.RequireColumns(c.Input(0), x.Fields, c.Path("fields"))
	},
	Output: activity.SameInput("out"),
}

func audienceNameRe(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func dimensionOutput(dim func(any) string) func(*activity.Check, any, []campaign.Schema) map[string]campaign.Schema {
	return func(c *activity.Check, cfg any, _ []campaign.Schema) map[string]campaign.Schema {
		return tableOutput(c, dim(cfg), "out")
	}
}

func tableOutput(c *activity.Check, name, port string) map[string]campaign.Schema {
	if name == "" {
		name = c.Dimension
	}
	if t, ok := c.Catalog.Table(name); ok {
		return map[string]campaign.Schema{port: t.Schema()}
	}
	return map[string]campaign.Schema{port: {Dimension: name}}
}

func checkSplit(c *activity.Check, cfg any) {
	x := cfg.(*SplitConfig)
	in := c.Input(0)
	if len(x.Segments) == 0 {
		c.Errorf(c.Path("segments"), "split needs at least one segment")
	}
	names := map[string]bool{}
	for i, s := range x.Segments {
		sp := campaign.JoinPath(c.Path("segments"), i)
		if s.Name == "others" || s.Name == "out" {
			c.Errorf(campaign.JoinPath(sp, "name"), "segment name %q is reserved", s.Name)
		} else if !campaign.ValidPortName(s.Name) {
			c.Errorf(campaign.JoinPath(sp, "name"), "segment name %q must match [a-zA-Z0-9_]{1,64}: it names a port", s.Name)
		}
		if names[s.Name] {
			c.Errorf(campaign.JoinPath(sp, "name"), "duplicate segment %q", s.Name)
		}
		names[s.Name] = true
		c.CheckCondition(campaign.JoinPath(sp, "where"), s.Where, in)
		if l := s.Limit; l != nil {
			lp := campaign.JoinPath(sp, "limit")
			if (l.Count == nil) == (l.Percent == nil) {
				c.Errorf(lp, "a limit needs exactly one of count or percent")
			}
			if l.Count != nil && *l.Count < 0 {
				c.Errorf(campaign.JoinPath(lp, "count"), "count must be 0 or more")
			}
			if l.Percent != nil && (*l.Percent < 0 || *l.Percent > 100) {
				c.Errorf(campaign.JoinPath(lp, "percent"), "percent must be between 0 and 100")
			}
			if l.Random && len(l.OrderBy) > 0 {
				c.Errorf(lp, "a limit takes orderBy or random, not both")
			}
			c.RequireOrder(in, l.OrderBy, campaign.JoinPath(lp, "orderBy"))
		}
	}
	if x.Single && x.Others {
		// others rows keep an empty segmentCode on the single port.
		c.Warnf(c.Path("others"), "with single: true, rows in no segment are on `out` with an empty segmentCode")
	}
}

func checkEnrichment(c *activity.Check, cfg any) {
	x := cfg.(*EnrichmentConfig)
	if len(x.Add) == 0 {
		c.Errorf(c.Path("add"), "enrichment needs at least one addition")
	}
	enrichmentColumns(c, x, c.Inputs, true)
}

// enrichmentColumns derives the added columns, reporting problems when report is set.
func enrichmentColumns(c *activity.Check, x *EnrichmentConfig, in []campaign.Schema, report bool) ([]campaign.Column, bool) {
	errorf := func(path, f string, a ...any) {
		if report {
			c.Errorf(path, f, a...)
		}
	}
	var base campaign.Schema
	if len(in) > 0 {
		base = in[0]
	}
	dim, hasDim := c.Catalog.Table(base.Dimension)
	var cols []campaign.Column
	seen := map[string]bool{}
	for _, col := range base.Columns {
		seen[col.Name] = true
	}
	for i, a := range x.Add {
		ap := campaign.JoinPath(c.Path("add"), i)
		if seen[a.Name] {
			errorf(campaign.JoinPath(ap, "name"), "column %q already exists in the population", a.Name)
		}
		seen[a.Name] = true
		forms := 0
		for _, set := range []bool{a.Field != "" && a.Link == "" && a.Join == "", a.Link != "" && a.Aggregate != "", a.Link != "" && a.Collect > 0, a.Join != ""} {
			if set {
				forms++
			}
		}
		if forms != 1 {
			errorf(ap, "an addition is one of: field; link + aggregate; link + collect; join + on + field")
			continue
		}
		switch {
		case a.Join != "":
			idx := -1
			for j, t := range c.Activity.From {
				if t.Activity == a.Join {
					idx = j
				}
			}
			if idx <= 0 {
				errorf(campaign.JoinPath(ap, "join"), "join %q must be another inbound activity of this enrichment (listed in from after the main population)", a.Join)
				continue
			}
			other := in[idx]
			if len(a.On) == 0 {
				errorf(campaign.JoinPath(ap, "on"), "join needs on: { thisColumn: otherColumn }")
			}
			for _, k := range campaign.SortedKeys(a.On) {
				if report {
					c.RequireColumn(base, k, campaign.JoinPath(campaign.JoinPath(ap, "on"), k))
					c.RequireColumn(other, a.On[k], campaign.JoinPath(campaign.JoinPath(ap, "on"), k))
				}
			}
			if col, ok := other.Column(a.Field); ok {
				cols = append(cols, campaign.Column{Name: a.Name, Type: col.Type, Scale: col.Scale})
			} else if report {
				c.RequireColumn(other, a.Field, campaign.JoinPath(ap, "field"))
			}
		case a.Link == "":
			col, err := resolveField(c.Catalog, base, a.Field)
			if err != nil {
				errorf(campaign.JoinPath(ap, "field"), "%v", err)
				continue
			}
			cols = append(cols, campaign.Column{Name: a.Name, Type: col.Type, Scale: col.Scale})
		default:
			if !hasDim {
				errorf(campaign.JoinPath(ap, "link"), "links need a population of a catalog table")
				continue
			}
			l, ok := dim.Link(a.Link)
			if !ok {
				errorf(campaign.JoinPath(ap, "link"), "unknown link %q of %q%s", a.Link, dim.Name, campaign.DidYouMean(a.Link, dim.LinkNames()))
				continue
			}
			lt, _ := c.Catalog.Table(l.Table)
			if report && a.Where != nil {
				c.CheckCondition(campaign.JoinPath(ap, "where"), a.Where, lt.Schema())
			}
			if report {
				c.RequireOrder(lt.Schema(), a.OrderBy, campaign.JoinPath(ap, "orderBy"))
			}
			if a.Aggregate != "" {
				if !c.OneOf(a.Aggregate, campaign.JoinPath(ap, "aggregate"), "aggregate", "count", "countDistinct", "sum", "avg", "min", "max") {
					continue
				}
				typ, scale := campaign.TypeInteger, 0
				if a.Aggregate != "count" {
					if a.Field == "" {
						errorf(campaign.JoinPath(ap, "field"), "aggregate %s needs field", a.Aggregate)
						continue
					}
					fc, ok := lt.Column(a.Field)
					if !ok {
						errorf(campaign.JoinPath(ap, "field"), "unknown column %q of %q%s", a.Field, lt.Name, campaign.DidYouMean(a.Field, lt.ColumnNames()))
						continue
					}
					switch a.Aggregate {
					case "sum", "avg":
						if fc.Type != campaign.TypeInteger && fc.Type != campaign.TypeNumber && fc.Type != campaign.TypeDecimal {
							errorf(campaign.JoinPath(ap, "field"), "%s needs a numeric column; %q is %s", a.Aggregate, a.Field, fc.Type)
						}
						typ = campaign.TypeNumber
						if a.Aggregate == "sum" && fc.Type != campaign.TypeNumber {
							typ, scale = fc.Type, fc.Scale
						}
					case "min", "max":
						typ, scale = fc.Type, fc.Scale
					}
				}
				cols = append(cols, campaign.Column{Name: a.Name, Type: typ, Scale: scale})
				continue
			}
			if len(a.Fields) == 0 {
				errorf(campaign.JoinPath(ap, "fields"), "collect needs fields")
			}
			for n := 1; n <= a.Collect; n++ {
				for j, f := range a.Fields {
					fc, ok := lt.Column(f)
					if !ok {
						if n == 1 {
							errorf(campaign.JoinPath(campaign.JoinPath(ap, "fields"), j), "unknown column %q of %q%s", f, lt.Name, campaign.DidYouMean(f, lt.ColumnNames()))
						}
						continue
					}
					cols = append(cols, campaign.Column{Name: CollectColumn(a.Name, n, f), Type: fc.Type, Scale: fc.Scale})
				}
			}
		}
	}
	return cols, true
}

// CollectColumn names the column holding field f of the n-th collected row.
func CollectColumn(name string, n int, f string) string {
	if f == "" {
		return fmt.Sprintf("%s%d", name, n)
	}
	return fmt.Sprintf("%s%d%s%s", name, n, strings.ToUpper(f[:1]), f[1:])
}

// resolveField finds a column of the population or, through one-links of its
// dimension, of a linked table ("store.city").
func resolveField(cat *campaign.Catalog, s campaign.Schema, field string) (campaign.Column, error) {
	if col, ok := s.Column(field); ok {
		return col, nil
	}
	parts := splitDots(field)
	if len(parts) == 1 {
		return campaign.Column{}, fmt.Errorf("unknown column %q in %s%s", field, s, campaign.DidYouMean(field, s.ColumnNames()))
	}
	t, ok := cat.Table(s.Dimension)
	if !ok {
		return campaign.Column{}, fmt.Errorf("%q goes through a link, but the population has no dimension", field)
	}
	for _, p := range parts[:len(parts)-1] {
		l, ok := t.Link(p)
		if !ok {
			return campaign.Column{}, fmt.Errorf("unknown link %q of %q%s", p, t.Name, campaign.DidYouMean(p, t.LinkNames()))
		}
		if l.Cardinality != "one" {
			return campaign.Column{}, fmt.Errorf("link %q of %q has many rows: use link + aggregate or collect", p, t.Name)
		}
		t, _ = cat.Table(l.Table)
	}
	last := parts[len(parts)-1]
	col, ok := t.Column(last)
	if !ok {
		return campaign.Column{}, fmt.Errorf("unknown column %q of %q%s", last, t.Name, campaign.DidYouMean(last, t.ColumnNames()))
	}
	return col, nil
}

func splitDots(s string) []string { return strings.Split(s, ".") }
