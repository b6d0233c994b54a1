package campaign_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// sources is a SchemaReader over fixed schemas by location; reads counts calls.
type sources struct {
	cols  map[string][]campaign.Column
	errs  map[string]error
	reads int
}

func (s *sources) SourceColumns(_ context.Context, loc string) ([]campaign.Column, error) {
	s.reads++
	if err, ok := s.errs[loc]; ok {
		return nil, err
	}
	if c, ok := s.cols[loc]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("open %s: %w", loc, fs.ErrNotExist)
}

var customersCols = []campaign.Column{
	{Name: "customerId", Type: "string"}, {Name: "email", Type: "string"}, {Name: "emailOptIn", Type: "boolean"},
	{Name: "score", Type: "integer"}, {Name: "amount", Type: "decimal", Scale: 2}, {Name: "joinedOn", Type: "date"},
}

func parse(t *testing.T, yaml string, r campaign.SchemaReader) (*campaign.Catalog, []string) {
	t.Helper()
	cat, diags := campaign.ParseCatalogSchemas(context.Background(), "/cat/catalog.yaml", []byte(yaml), r)
	var out []string
	for _, d := range diags {
		out = append(out, d.String())
	}
	return cat, out
}

// A table without declared columns takes its source's, and they are checked
// as declared ones are: key, targeting and link columns.
func TestCatalogColumnsFromSource(t *testing.T) {
	r := &sources{cols: map[string][]campaign.Column{
		"/cat/data/customers.parquet": customersCols,
		"/cat/data/purchases.parquet": {{Name: "purchaseId", Type: "string"}, {Name: "customerId", Type: "integer"}},
	}}
	cat, diags := parse(t, `version: 1
tables:
  - name: customers
    key: [customerID]
    source: data/customers.parquet
    targeting: { email: email, consent: { email: emial } }
    links:
      - { name: purchases, table: purchases, on: { customerId: customerId }, cardinality: many }
  - name: purchases
    key: [purchaseId]
    source: data/purchases.parquet
`, r)
	want := []string{
		`/cat/catalog.yaml:4:11 tables[0].key[0]: key column "customerID" is not a column of "customers" (did you mean "customerId"?)`,
		`/cat/catalog.yaml:6:50 tables[0].targeting.consent.email: column "emial" is not a column of "customers" (did you mean "email"?)`,
		`/cat/catalog.yaml:8:64 tables[0].links[0].on.customerId: link columns differ in type: customers.customerId is string, purchases.customerId is integer`,
	}
	if strings.Join(diags, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(diags, "\n"), strings.Join(want, "\n"))
	}
	tbl, _ := cat.Table("customers")
	if !reflect.DeepEqual(tbl.Columns, customersCols) {
		t.Fatalf("customers columns: %+v", tbl.Columns)
	}
}

// Declared columns win; one the source lacks, or stores as a type the run
// cannot convert to the declared one, is reported at its line.
func TestCatalogDeclaredColumnsCheckedAgainstSource(t *testing.T) {
	r := &sources{cols: map[string][]campaign.Column{"/cat/data/customers.parquet": customersCols}}
	cat, diags := parse(t, `version: 1
tables:
  - name: customers
    key: [customerId]
    source: data/customers.parquet
    columns:
      - { name: customerId, type: string }
      - { name: emial, type: string }
      - { name: emailOptIn, type: string }
      - { name: score, type: boolean }
      - { name: amount, type: decimal, scale: 1 }
      - { name: joinedOn, type: timestamp }
      - { name: email, type: json }
`, r)
	want := []string{
		`/cat/catalog.yaml:8:17 tables[0].columns[1].name: column "emial" is not in the source of "customers" (did you mean "email"?) (source columns: customerId, email, emailOptIn, score, amount, joinedOn)`,
		`/cat/catalog.yaml:10:30 tables[0].columns[3].type: column "score" is declared boolean but the source stores integer; declare it integer (or a type it converts to)`,
		`/cat/catalog.yaml:11:31 tables[0].columns[4].type: column "amount" is declared decimal (scale 1) but the source stores decimal (scale 2); declare it decimal (scale 2) (or a type it converts to)`,
	}
	if strings.Join(diags, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(diags, "\n"), strings.Join(want, "\n"))
	}
	if tbl, _ := cat.Table("customers"); len(tbl.Columns) != 7 || tbl.Columns[1].Name != "emial" || tbl.Columns[3].Type != "boolean" {
		t.Fatalf("declared columns replaced: %+v", tbl.Columns)
	}
}

func TestConverts(t *testing.T) {
	col := func(typ string, scale int) campaign.Column { return campaign.Column{Type: typ, Scale: scale} }
	for _, c := range []struct {
		from, to campaign.Column
		ok       bool
	}{
		{col("integer", 0), col("integer", 0), true},
		{col("integer", 0), col("number", 0), true},
		{col("integer", 0), col("decimal", 2), true},
		{col("decimal", 2), col("decimal", 4), true},
		{col("decimal", 2), col("decimal", 1), false},
		{col("decimal", 2), col("number", 0), true},
		{col("decimal", 2), col("integer", 0), false},
		{col("number", 0), col("integer", 0), false},
		{col("date", 0), col("timestamp", 0), true},
		{col("timestamp", 0), col("date", 0), false},
		{col("boolean", 0), col("string", 0), true},
		{col("json", 0), col("string", 0), true},
		{col("string", 0), col("date", 0), true},
		{col("string", 0), col("json", 0), true},
		{col("integer", 0), col("boolean", 0), false},
		{col("json", 0), col("integer", 0), false},
	} {
		if got := campaign.Converts(c.from, c.to); got != c.ok {
			t.Errorf("%s(%d) -> %s(%d): %v, want %v", c.from.Type, c.from.Scale, c.to.Type, c.to.Scale, got, c.ok)
		}
	}
}

// A source that cannot be read is reported at its source: line: an error
// when the table declares no columns, a warning when the declared ones
// suffice. A source without types needs declared columns. Tables without a
// source are not read; without a reader nothing is.
func TestCatalogUnreadableSources(t *testing.T) {
	r := &sources{errs: map[string]error{
		"/cat/events.jsonl": fmt.Errorf("%w (JSON lines: types would be guessed from a sample of rows)", campaign.ErrNoSchema),
		"/cat/typed.jsonl":  fmt.Errorf("%w (JSON lines: types would be guessed from a sample of rows)", campaign.ErrNoSchema),
	}}
	yaml := `version: 1
tables:
  - name: a
    key: [id]
    source: missing.parquet
  - name: b
    key: [id]
    source: missing.parquet
    columns: [{ name: id, type: string }]
  - name: c
    key: [id]
    source: events.jsonl
  - name: d
    key: [id]
    source: typed.jsonl
    columns: [{ name: id, type: string }]
  - name: e
    key: [id]
`
	_, diags := parse(t, yaml, r)
	want := []string{
		`/cat/catalog.yaml:5:13 tables[0].source: table "a": cannot read the columns of source "missing.parquet": open /cat/missing.parquet: file does not exist`,
		`/cat/catalog.yaml:8:13 tables[1].source: warning: table "b": cannot read source "missing.parquet": open /cat/missing.parquet: file does not exist`,
		`/cat/catalog.yaml:12:13 tables[2].source: table "c": the source carries no column types (JSON lines: types would be guessed from a sample of rows); declare its columns`,
	}
	if strings.Join(diags, "\n") != strings.Join(want, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", strings.Join(diags, "\n"), strings.Join(want, "\n"))
	}
	if r.reads != 4 {
		t.Fatalf("%d reads, want one per table with a source", r.reads)
	}
	if _, diags := parse(t, yaml, nil); len(diags) != 0 {
		t.Fatalf("without a reader: %v", diags)
	}
	if !errors.Is(r.errs["/cat/events.jsonl"], campaign.ErrNoSchema) {
		t.Fatal("fixture")
	}
}
