package campaign

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// Column types of the catalog.
const (
	TypeString    = "string"
	TypeInteger   = "integer"
	TypeNumber    = "number"
	TypeDecimal   = "decimal"
	TypeBoolean   = "boolean"
	TypeDate      = "date"
	TypeTimestamp = "timestamp"
	TypeJSON      = "json"
)

// ColumnTypes lists the valid column types.
var ColumnTypes = []string{TypeString, TypeInteger, TypeNumber, TypeDecimal, TypeBoolean, TypeDate, TypeTimestamp, TypeJSON}

// Catalog declares the tables campaigns read and write, their keys and links.
type Catalog struct {
	Version   int     `json:"version" jsonschema:"required,enum=1"`
	Warehouse string  `json:"warehouse,omitempty" jsonschema:"description=local folder or s3://bucket/prefix where managed table versions live"`
	Tables    []Table `json:"tables" jsonschema:"required"`
	// Engine runs the targeting SQL: duckdb (default), athena or auto
	// (engine.go).
	Engine string  `json:"engine,omitempty" jsonschema:"enum=duckdb,enum=athena,enum=auto,description=where targeting SQL runs (default duckdb)"`
	Athena *Athena `json:"athena,omitempty"`

	File string  `json:"-"` // the file it was read from
	Src  *Source `json:"-"`
}

// Table is one relational table.
type Table struct {
	Name      string     `json:"name" jsonschema:"required"`
	Key       []string   `json:"key" jsonschema:"required"`
	Source    string     `json:"source,omitempty" jsonschema:"description=initial data: file\\, glob\\, folder or s3:// URI (parquet\\, csv\\, tsv\\, jsonl)"`
	Columns   []Column   `json:"columns,omitempty" jsonschema:"description=optional when the source has a schema (Parquet; CSV or TSV with a typed header of name:type cells); required otherwise"`
	Targeting *Targeting `json:"targeting,omitempty"`
	Links     []Link     `json:"links,omitempty"`
}

// Column is a typed column.
type Column struct {
	Name        string   `json:"name" jsonschema:"required"`
	Type        string   `json:"type" jsonschema:"required,enum=string,enum=integer,enum=number,enum=decimal,enum=boolean,enum=date,enum=timestamp,enum=json"`
	Scale       int      `json:"scale,omitempty"`
	Enum        []string `json:"enum,omitempty"`
	Description string   `json:"description,omitempty"`
}

// Targeting makes a table a targeting dimension: its rows can receive messages.
type Targeting struct {
	Email    string            `json:"email,omitempty"`
	SMS      string            `json:"sms,omitempty"`
	Push     string            `json:"push,omitempty"`
	Consent  map[string]string `json:"consent,omitempty"`
	Timezone string            `json:"timezone,omitempty"`
}

// Link relates two tables by equal columns.
type Link struct {
	Name        string            `json:"name" jsonschema:"required"`
	Table       string            `json:"table" jsonschema:"required"`
	On          map[string]string `json:"on" jsonschema:"required"`
	Cardinality string            `json:"cardinality" jsonschema:"required,enum=one,enum=many"`
}

// OnPairs returns the link's column pairs (this table, linked table) sorted by
// this table's column, so generated SQL is deterministic.
func (l Link) OnPairs() [][2]string {
	keys := make([]string, 0, len(l.On))
	for k := range l.On {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]string, len(keys))
	for i, k := range keys {
		out[i] = [2]string{k, l.On[k]}
	}
	return out
}

// Table returns the named table.
func (c *Catalog) Table(name string) (*Table, bool) {
	for i := range c.Tables {
		if c.Tables[i].Name == name {
			return &c.Tables[i], true
		}
	}
	return nil, false
}

// TableNames lists table names in declaration order.
func (c *Catalog) TableNames() []string {
	out := make([]string, len(c.Tables))
	for i, t := range c.Tables {
		out[i] = t.Name
	}
	return out
}

// Column returns the named column.
func (t *Table) Column(name string) (Column, bool) {
	for _, c := range t.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames lists column names in declaration order.
func (t *Table) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Link returns the named link.
func (t *Table) Link(name string) (Link, bool) {
	for _, l := range t.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// LinkNames lists link names.
func (t *Table) LinkNames() []string {
	out := make([]string, len(t.Links))
	for i, l := range t.Links {
		out[i] = l.Name
	}
	return out
}

// Columns of a table as a schema.
func (t *Table) Schema() Schema {
	return Schema{Dimension: t.Name, Columns: append([]Column(nil), t.Columns...)}
}

// LoadCatalog reads, decodes and checks a catalog file without reading the
// sources (LoadCatalogSchemas does).
func LoadCatalog(file string) (*Catalog, Diagnostics) {
	return LoadCatalogSchemas(context.Background(), file, nil)
}

// ParseCatalog decodes and checks catalog bytes without reading the
// sources: tables that declare no columns have none.
func ParseCatalog(file string, data []byte) (*Catalog, Diagnostics) {
	return ParseCatalogSchemas(context.Background(), file, data, nil)
}

// Dir is the folder relative paths in the catalog are resolved against.
func (c *Catalog) Dir() string {
	if c.File == "" {
		return "."
	}
	return filepath.Dir(c.File)
}

// Resolve makes a path named in the catalog absolute (URIs are kept).
func (c *Catalog) Resolve(p string) string {
	if p == "" || strings.Contains(p, "://") || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir(), p)
}

func (c *Catalog) check(r Reporter) {
	if c.Version != 1 {
		r.Errorf("version", "unsupported catalog version %d; valid: 1", c.Version)
	}
	c.checkEngine(r)
	names := map[string]int{}
	for i, t := range c.Tables {
		p := JoinPath("tables", i)
		if j, dup := names[t.Name]; dup {
			r.Errorf(JoinPath(p, "name"), "duplicate table %q (first declared at tables[%d])", t.Name, j)
		}
		names[t.Name] = i
		cols := map[string]bool{}
		for j, col := range t.Columns {
			cp := JoinPath(JoinPath(p, "columns"), j)
			if cols[col.Name] {
				r.Errorf(JoinPath(cp, "name"), "duplicate column %q", col.Name)
			}
			cols[col.Name] = true
			if !contains(ColumnTypes, col.Type) {
				r.Errorf(JoinPath(cp, "type"), "unknown column type %q%s; valid: %s", col.Type, DidYouMean(col.Type, ColumnTypes), strings.Join(ColumnTypes, ", "))
			}
		}
		if len(t.Key) == 0 {
			r.Errorf(p, "table %q has no key", t.Name)
		}
		if len(t.Columns) > 0 {
			for j, k := range t.Key {
				if !cols[k] {
					r.Errorf(JoinPath(JoinPath(p, "key"), j), "key column %q is not a column of %q%s", k, t.Name, DidYouMean(k, t.ColumnNames()))
				}
			}
		}
		if tg := t.Targeting; tg != nil && len(t.Columns) > 0 {
			tp := JoinPath(p, "targeting")
			for _, ch := range [][2]string{{"email", tg.Email}, {"sms", tg.SMS}, {"push", tg.Push}, {"timezone", tg.Timezone}} {
				if ch[1] != "" && !cols[ch[1]] {
					r.Errorf(JoinPath(tp, ch[0]), "column %q is not a column of %q%s", ch[1], t.Name, DidYouMean(ch[1], t.ColumnNames()))
				}
			}
			for _, ch := range SortedKeys(tg.Consent) {
				col := tg.Consent[ch]
				cp := JoinPath(JoinPath(tp, "consent"), ch)
				if !contains([]string{"email", "sms", "push"}, ch) {
					r.Errorf(cp, "unknown channel %q; valid: email, sms, push", ch)
				}
				if c, ok := t.Column(col); !ok {
					r.Errorf(cp, "column %q is not a column of %q%s", col, t.Name, DidYouMean(col, t.ColumnNames()))
				} else if c.Type != TypeBoolean {
					r.Errorf(cp, "consent column %q must be boolean, not %s", col, c.Type)
				}
			}
		}
	}
	for i, t := range c.Tables {
		for j, l := range t.Links {
			lp := JoinPath(JoinPath(JoinPath("tables", i), "links"), j)
			target, ok := c.Table(l.Table)
			if !ok {
				r.Errorf(JoinPath(lp, "table"), "unknown table %q%s", l.Table, DidYouMean(l.Table, c.TableNames()))
				continue
			}
			if l.Cardinality != "one" && l.Cardinality != "many" {
				r.Errorf(JoinPath(lp, "cardinality"), "cardinality must be one or many, not %q", l.Cardinality)
			}
			if len(l.On) == 0 {
				r.Errorf(JoinPath(lp, "on"), "link %q needs at least one column pair", l.Name)
			}
			for _, pair := range l.OnPairs() {
				op := JoinPath(JoinPath(lp, "on"), pair[0])
				a, aok := t.Column(pair[0])
				b, bok := target.Column(pair[1])
				if len(t.Columns) > 0 && !aok {
					r.Errorf(op, "column %q is not a column of %q%s", pair[0], t.Name, DidYouMean(pair[0], t.ColumnNames()))
				}
				if len(target.Columns) > 0 && !bok {
					r.Errorf(op, "column %q is not a column of %q%s", pair[1], target.Name, DidYouMean(pair[1], target.ColumnNames()))
				}
				if aok && bok && a.Type != b.Type {
					r.Errorf(op, "link columns differ in type: %s.%s is %s, %s.%s is %s", t.Name, a.Name, a.Type, target.Name, b.Name, b.Type)
				}
			}
		}
	}
}

// Schema is the shape of a population: its dimension and columns.
type Schema struct {
	Dimension string   `json:"dimension"` // a catalog table, or "" for file rows
	Columns   []Column `json:"columns"`
}

// Column returns the named column of the schema.
func (s Schema) Column(name string) (Column, bool) {
	for _, c := range s.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

// ColumnNames lists the schema's column names.
func (s Schema) ColumnNames() []string {
	out := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		out[i] = c.Name
	}
	return out
}

// With returns a copy with cols appended (replacing same-named columns).
func (s Schema) With(cols ...Column) Schema {
	out := Schema{Dimension: s.Dimension}
	replaced := map[string]bool{}
	for _, c := range cols {
		replaced[c.Name] = true
	}
	for _, c := range s.Columns {
		if !replaced[c.Name] {
			out.Columns = append(out.Columns, c)
		}
	}
	out.Columns = append(out.Columns, cols...)
	return out
}

func (s Schema) String() string {
	if s.Dimension == "" {
		return "file rows"
	}
	return fmt.Sprintf("%s rows", s.Dimension)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
