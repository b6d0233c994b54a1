package campaign

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SchemaReader reads the columns of a table's source from the source's own
// metadata (Parquet footers, a typed CSV header), never its rows.
// dataset.SchemaProbe implements it, with a cache per file version.
type SchemaReader interface {
	// SourceColumns returns the columns of the source at location (a
	// resolved path, folder, glob or s3:// URI), in the source's order.
	// An error wrapping ErrNoSchema means the source is readable but
	// carries no types (JSON lines, a CSV header without types).
	SourceColumns(ctx context.Context, location string) ([]Column, error)
}

// ErrNoSchema: the source carries no column types; the catalog must
// declare the table's columns.
var ErrNoSchema = errors.New("the source carries no column types")

// LoadCatalogSchemas is LoadCatalog with the columns of table sources read
// through schemas (see ParseCatalogSchemas).
func LoadCatalogSchemas(ctx context.Context, file string, schemas SchemaReader) (*Catalog, Diagnostics) {
	data, diags := readFile(file, "catalog", MaxCatalogBytes)
	if diags != nil {
		return nil, diags
	}
	return ParseCatalogSchemas(ctx, file, data, schemas)
}

// ParseCatalogSchemas decodes and checks catalog bytes, reading the schema of
// every table source through schemas (nil: none is read). A table without
// declared columns takes its source's; declared columns win and are checked
// against the source's. Source columns are then checked like declared ones
// (keys, targeting, links), and conditions and templates see them.
func ParseCatalogSchemas(ctx context.Context, file string, data []byte, schemas SchemaReader) (*Catalog, Diagnostics) {
	if d := checkSize(file, "catalog", data, MaxCatalogBytes); d != nil {
		return nil, d
	}
	src, diags := Parse(file, data)
	if diags.HasErrors() {
		return nil, diags
	}
	c := &Catalog{File: file, Src: src}
	d := NewDecoder(src, &diags)
	d.Decode(src.Root, "", c)
	if schemas != nil {
		c.readSchemas(ctx, d.Reporter, schemas)
	}
	c.check(d.Reporter)
	diags.Sort()
	return c, diags
}

// readSchemas fills or checks the columns of every table with a source.
func (c *Catalog) readSchemas(ctx context.Context, r Reporter, schemas SchemaReader) {
	for i := range c.Tables {
		t := &c.Tables[i]
		if t.Source == "" {
			continue
		}
		p := JoinPath("tables", i)
		have, err := schemas.SourceColumns(ctx, c.Resolve(t.Source))
		switch {
		case errors.Is(err, ErrNoSchema) && len(t.Columns) == 0:
			r.Errorf(JoinPath(p, "source"), "table %q: %v; declare its columns", t.Name, err)
		case errors.Is(err, ErrNoSchema):
			// Declared columns are the schema: nothing to compare with.
		case err != nil && len(t.Columns) == 0:
			r.Errorf(JoinPath(p, "source"), "table %q: cannot read the columns of source %q: %v", t.Name, t.Source, err)
		case err != nil:
			// The declared columns suffice to check the campaign; the run
			// reads the source when it runs (it may be written later).
			r.Warnf(JoinPath(p, "source"), "table %q: cannot read source %q: %v", t.Name, t.Source, err)
		case len(t.Columns) == 0:
			t.Columns = append([]Column(nil), have...)
		default:
			checkDeclared(r, p, t, have)
		}
	}
}

// checkDeclared reports declared columns the source lacks or stores with a
// type the run cannot convert to the declared one.
func checkDeclared(r Reporter, p string, t *Table, have []Column) {
	byName := map[string]Column{}
	names := make([]string, len(have))
	for i, h := range have {
		byName[h.Name] = h
		names[i] = h.Name
	}
	for j, col := range t.Columns {
		cp := JoinPath(JoinPath(p, "columns"), j)
		h, ok := byName[col.Name]
		if !ok {
			r.Errorf(JoinPath(cp, "name"), "column %q is not in the source of %q%s (source columns: %s)",
				col.Name, t.Name, DidYouMean(col.Name, names), strings.Join(names, ", "))
			continue
		}
		if contains(ColumnTypes, col.Type) && !Converts(h, col) {
			r.Errorf(JoinPath(cp, "type"), "column %q is declared %s but the source stores %s; declare it %s (or a type it converts to)",
				col.Name, typeName(col), typeName(h), typeName(h))
		}
	}
}

// Converts reports whether every value of a source column of type from
// converts to the declared type to without loss of meaning: the same type;
// integer to number or decimal; decimal to number or to a decimal of equal or
// larger scale; date to timestamp; anything to string; string to json. A
// string column converts to any type (text is parsed, as from CSV: a value
// that does not parse fails the run that reads it).
func Converts(from, to Column) bool {
	if from.Type == to.Type {
		return from.Type != TypeDecimal || to.Scale >= from.Scale
	}
	switch to.Type {
	case TypeString:
		return true
	case TypeNumber:
		return from.Type == TypeInteger || from.Type == TypeDecimal
	case TypeDecimal:
		return from.Type == TypeInteger
	case TypeTimestamp:
		return from.Type == TypeDate
	}
	return from.Type == TypeString
}

func typeName(c Column) string {
	if c.Type == TypeDecimal {
		return fmt.Sprintf("decimal (scale %d)", c.Scale)
	}
	return c.Type
}
