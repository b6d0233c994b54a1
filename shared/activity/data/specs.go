// Package data holds the data-management activity types: load-file and update-data.
package data

import (
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Register adds the data-management types to r.
func Register(r *activity.Registry) {
	r.Register(LoadFile, UpdateData)
}

// FileRef is a path or URI, or {param: name}.
type FileRef struct {
	Path  string
	Param string
}

// DecodeNode implements campaign.NodeDecoder.
func (f *FileRef) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		f.Path = n.Value
		return
	}
	var ref struct {
		Param string `json:"param" jsonschema:"required"`
	}
	d.Decode(n, path, &ref)
	f.Param = ref.Param
}

// CSVOptions describe delimited text.
type CSVOptions struct {
	Delimiter string `json:"delimiter,omitempty"`
	Header    *bool  `json:"header,omitempty"`
	Quote     string `json:"quote,omitempty"`
	Encoding  string `json:"encoding,omitempty" jsonschema:"enum=utf-8"`
	SkipLines int    `json:"skipLines,omitempty"`
}

// FileColumn types and cleans one column of a file.
type FileColumn struct {
	Name      string `json:"name" jsonschema:"required"`
	Type      string `json:"type,omitempty" jsonschema:"enum=string,enum=integer,enum=number,enum=decimal,enum=boolean,enum=date,enum=timestamp,enum=json"`
	Required  bool   `json:"required,omitempty"`
	Transform string `json:"transform,omitempty" jsonschema:"enum=lower,enum=upper,enum=trim"`
	OnError   string `json:"onError,omitempty" jsonschema:"enum=reject,enum=null,enum=default"`
	Default   any    `json:"default,omitempty"`
	Format    string `json:"format,omitempty" jsonschema:"description=Go time layout for date and timestamp columns"`
	Source    string `json:"source,omitempty" jsonschema:"description=header name in the file when it differs from name"`
}

// LoadFileConfig reads a file into a population.
type LoadFileConfig struct {
	File      FileRef      `json:"file" jsonschema:"required"`
	Format    string       `json:"format,omitempty" jsonschema:"enum=csv,enum=tsv,enum=jsonl,enum=parquet"`
	CSV       *CSVOptions  `json:"csv,omitempty"`
	Columns   []FileColumn `json:"columns,omitempty"`
	MaxErrors *int         `json:"maxErrors,omitempty" jsonschema:"description=more rejected lines than this fails the activity (default 100)"`
	Dimension string       `json:"dimension,omitempty" jsonschema:"description=treat the rows as rows of this table (the file must hold its key)"`
}

// LoadFile is the load-file type.
var LoadFile = &activity.Spec{
	Type: "load-file", Family: activity.Data, Function: "LoadFile",
	Summary:   "Reads a CSV, TSV, JSONL or Parquet file; bad lines go to rejects.",
	NewConfig: func() any { return &LoadFileConfig{} },
	Inputs:    activity.Inputs{ReadsOwnData: true},
	Ports:     activity.Fixed("out", "rejects"),
	Check: func(c *activity.Check, cfg any) {
		x := cfg.(*LoadFileConfig)
		if x.File.Param != "" {
			if p, ok := c.Campaign.Parameters[x.File.Param]; !ok {
				c.Errorf(c.Path("file", "param"), "parameter %q is not declared%s", x.File.Param, campaign.DidYouMean(x.File.Param, paramNames(c.Campaign)))
			} else if p.Type != campaign.TypeString {
				c.Errorf(c.Path("file", "param"), "parameter %q must be a string to name a file", x.File.Param)
			}
		} else if x.File.Path == "" {
			c.Errorf(c.Path("file"), "file is empty")
		}
		format := x.Format
		if format == "" && x.File.Param == "" {
			format = FormatOf(x.File.Path)
		}
		if format != "" {
			c.OneOf(format, c.Path("format"), "format", "csv", "tsv", "jsonl", "parquet")
		}
		// A file passed as a parameter without a format is checked at run time.
		if (format == "csv" || format == "tsv") && len(x.Columns) == 0 {
			c.Errorf(c.Path("columns"), "a %s file needs typed columns", format)
		}
		if x.CSV != nil && x.CSV.Encoding != "" && !strings.EqualFold(x.CSV.Encoding, "utf-8") && !strings.EqualFold(x.CSV.Encoding, "utf8") {
			c.Errorf(c.Path("csv", "encoding"), "unsupported encoding %q; valid: utf-8", x.CSV.Encoding)
		}
		if x.CSV != nil && len(x.CSV.Delimiter) > 1 && x.CSV.Delimiter != "\\t" {
			c.Errorf(c.Path("csv", "delimiter"), "delimiter must be one character")
		}
		names := map[string]bool{}
		for i, col := range x.Columns {
			cp := c.Path("columns", i)
			if names[col.Name] {
				c.Errorf(campaign.JoinPath(cp, "name"), "duplicate column %q", col.Name)
			}
			names[col.Name] = true
			if col.Type != "" {
				c.OneOf(col.Type, campaign.JoinPath(cp, "type"), "column type", campaign.ColumnTypes...)
			}
			if col.Transform != "" {
				c.OneOf(col.Transform, campaign.JoinPath(cp, "transform"), "transform", "lower", "upper", "trim")
			}
			if col.OnError != "" {
				c.OneOf(col.OnError, campaign.JoinPath(cp, "onError"), "onError", "reject", "null", "default")
			}
			if col.OnError == "default" && col.Default == nil {
				c.Errorf(campaign.JoinPath(cp, "default"), "onError: default needs a default value")
			}
			if col.Format != "" {
				if col.Type != campaign.TypeDate && col.Type != campaign.TypeTimestamp {
					c.Errorf(campaign.JoinPath(cp, "format"), "format applies to date and timestamp columns only")
				} else if _, _, _, err := strptimeLayout(col.Format); err != nil {
					c.Errorf(campaign.JoinPath(cp, "format"), "%v", err)
				}
			}
		}
		if x.MaxErrors != nil && *x.MaxErrors < 0 {
			c.Errorf(c.Path("maxErrors"), "maxErrors must be 0 or more")
		}
		if x.Dimension != "" {
			if t, ok := c.DimensionTable(x.Dimension, c.Path("dimension")); ok {
				for _, k := range t.Key {
					if !names[k] && len(x.Columns) > 0 {
						c.Errorf(c.Path("dimension"), "the file must have the key column %q of %q", k, t.Name)
					}
				}
			}
		}
	},
	Output: func(c *activity.Check, cfg any, _ []campaign.Schema) map[string]campaign.Schema {
		x := cfg.(*LoadFileConfig)
		s := campaign.Schema{Dimension: x.Dimension}
		for _, col := range x.Columns {
			t := col.Type
			if t == "" {
				t = campaign.TypeString
			}
			s.Columns = append(s.Columns, campaign.Column{Name: col.Name, Type: t})
		}
		rej := campaign.Schema{Columns: []campaign.Column{
			{Name: "line", Type: campaign.TypeInteger}, {Name: "reason", Type: campaign.TypeString}, {Name: "raw", Type: campaign.TypeString}}}
		return map[string]campaign.Schema{"out": s, "rejects": rej}
	},
}

// FormatOf guesses a file format from its extension.
func FormatOf(path string) string {
	p := strings.ToLower(path)
	for _, ext := range []string{"csv", "tsv", "jsonl", "parquet"} {
		if strings.HasSuffix(p, "."+ext) || strings.HasSuffix(p, "."+ext+".gz") {
			return ext
		}
	}
	if strings.HasSuffix(p, ".ndjson") || strings.HasSuffix(p, ".json") {
		return "jsonl"
	}
	if strings.HasSuffix(p, ".txt") {
		return "csv"
	}
	return "csv"
}

// SetValue is a literal, or {now: true}, {increment: n}, {field: column}, {param: name}.
type SetValue struct {
	condition.Value
	Increment *float64
}

// DecodeNode implements campaign.NodeDecoder.
func (s *SetValue) DecodeNode(d *campaign.Decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && n.Content[0].Value == "increment" {
		var x struct {
			Increment float64 `json:"increment"`
		}
		d.Decode(n, path, &x)
		s.Increment = &x.Increment
		return
	}
	s.Value.DecodeNode(d, n, path)
}

// UpdateDataConfig writes a population into a catalog table.
type UpdateDataConfig struct {
	Table     string              `json:"table" jsonschema:"required"`
	Operation string              `json:"operation" jsonschema:"required,enum=insert,enum=update,enum=upsert,enum=delete"`
	Key       map[string]string   `json:"key" jsonschema:"required,description=table column: input column"`
	Set       map[string]SetValue `json:"set,omitempty"`
	BatchSize int                 `json:"batchSize,omitempty"`
}

// UpdateData is the update-data type.
var UpdateData = &activity.Spec{
	Type: "update-data", Family: activity.Data, Function: "UpdateData",
	Summary:   "Inserts, updates, upserts or deletes rows of a table; commits a new table version.",
	NewConfig: func() any { return &UpdateDataConfig{} },
	Inputs:    activity.Inputs{Min: 1, Max: 1},
	Ports:     activity.Fixed("out", "rejects"),
	Check:     checkUpdateData,
	Output: func(c *activity.Check, cfg any, in []campaign.Schema) map[string]campaign.Schema {
		var s campaign.Schema
		if len(in) > 0 {
			s = in[0]
		}
		return map[string]campaign.Schema{"out": s, "rejects": s.With(campaign.Column{Name: "reason", Type: campaign.TypeString})}
	},
}

func checkUpdateData(c *activity.Check, cfg any) {
	x := cfg.(*UpdateDataConfig)
	c.OneOf(x.Operation, c.Path("operation"), "operation", "insert", "update", "upsert", "delete")
	t, ok := c.DimensionTable(x.Table, c.Path("table"))
	if !ok {
		return
	}
	in := c.Input(0)
	if len(x.Key) == 0 {
		c.Errorf(c.Path("key"), "key needs at least one pair { tableColumn: inputColumn }")
	}
	for _, k := range campaign.SortedKeys(x.Key) {
		kp := c.Path("key", k)
		tc, tok := c.RequireColumn(t.Schema(), k, kp)
		ic, iok := c.RequireColumn(in, x.Key[k], kp)
		if tok && iok && tc.Type != ic.Type {
			c.Errorf(kp, "key types differ: %s.%s is %s, input %q is %s", t.Name, k, tc.Type, x.Key[k], ic.Type)
		}
	}
	if x.Operation == "delete" && len(x.Set) > 0 {
		c.Errorf(c.Path("set"), "delete takes no set")
	}
	if x.Operation == "insert" || x.Operation == "upsert" {
		for _, k := range t.Key {
			if _, ok := x.Key[k]; !ok {
				c.Errorf(c.Path("key"), "%s needs the key of %s: map %s", x.Operation, t.Name, strings.Join(t.Key, ", "))
				break
			}
		}
	}
	for _, k := range campaign.SortedKeys(x.Set) {
		v := x.Set[k]
		sp := c.Path("set", k)
		tc, ok := c.RequireColumn(t.Schema(), k, sp)
		if !ok {
			continue
		}
		if _, isKey := x.Key[k]; isKey || contains(t.Key, k) {
			c.Errorf(sp, "set cannot change the key column %q", k)
		}
		if lit, ok := v.Literal.(string); ok && !v.IsRef() && v.Increment == nil && len(tc.Enum) > 0 && !contains(tc.Enum, lit) {
			c.Errorf(sp, "%q is not one of %s", lit, strings.Join(tc.Enum, ", "))
		}
		switch {
		case v.Increment != nil:
			if tc.Type != campaign.TypeInteger && tc.Type != campaign.TypeNumber && tc.Type != campaign.TypeDecimal {
				c.Errorf(sp, "increment needs a numeric column; %q is %s", k, tc.Type)
			} else if tc.Type == campaign.TypeInteger && *v.Increment != float64(int64(*v.Increment)) {
				c.Errorf(sp, "increment of the integer column %q must be a whole number", k)
			}
		case v.Now:
			if tc.Type != campaign.TypeTimestamp && tc.Type != campaign.TypeDate {
				c.Errorf(sp, "now needs a date or timestamp column; %q is %s", k, tc.Type)
			}
		case v.Field != "":
			c.RequireColumn(in, v.Field, campaign.JoinPath(sp, "field"))
		case v.Param != "":
			if _, ok := c.Campaign.Parameters[v.Param]; !ok {
				c.Errorf(campaign.JoinPath(sp, "param"), "parameter %q is not declared%s", v.Param, campaign.DidYouMean(v.Param, paramNames(c.Campaign)))
			}
		case v.Variable != "":
			if _, ok := c.Campaign.Variables[v.Variable]; !ok {
				c.Errorf(campaign.JoinPath(sp, "variable"), "variable %q is not declared", v.Variable)
			}
		case v.Ago != "" || v.Ahead != "":
			c.Errorf(sp, "set takes a literal, now, increment, field, param or variable")
		}
	}
}

func paramNames(c *campaign.Campaign) []string {
	var out []string
	for k := range c.Parameters {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
