package compile_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// schemaReads answers each read with the next error of errs (nil: the columns).
type schemaReads struct {
	errs []error
	cols []campaign.Column
}

func (s *schemaReads) SourceColumns(context.Context, string) ([]campaign.Column, error) {
	var err error
	if len(s.errs) > 0 {
		err, s.errs = s.errs[0], s.errs[1:]
	}
	if err != nil {
		return nil, err
	}
	return s.cols, nil
}

// A task loading a bundle reads the table sources' schemas again: a read
// that fails for want of the store (S3 unavailable) makes the load
// retryable; an absent source makes the bundle invalid.
func TestLoaderSourceSchemaFailures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(`version: 1
tables:
  - { name: customers, key: [id], source: "s3://data/customers.parquet", targeting: { email: email } }
`), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(`version: 1
id: c
dimension: customers
activities:
  - { id: a, type: build-audience, where: { field: email, op: isNotEmpty } }
`), 0o644)
	cols := []campaign.Column{{Name: "id", Type: "string"}, {Name: "email", Type: "string"}}
	p, diags := compile.CompileFiles(ctx, filepath.Join(dir, "c.yaml"), "", activities.Registry(), activities.Checkers(), &schemaReads{cols: cols})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := (&compile.Loader{Blob: bs}).Publish(ctx, "c", p.Bundle); err != nil {
		t.Fatal(err)
	}
	load := func(errs ...error) (*activity.Compiled, error) {
		l := &compile.Loader{Blob: bs, Registry: activities.Registry(), Checkers: activities.Checkers(), Schemas: &schemaReads{errs: errs, cols: cols}}
		return l.Load(ctx, "c", p.Bundle.Hash)
	}
	var retry *activity.Retryable
	if _, err := load(errors.New("api error SlowDown: Please reduce your request rate")); !errors.As(err, &retry) {
		t.Fatalf("unavailable store: %T %v, want Retryable", err, err)
	}
	var invalid *activity.InvalidInput
	if _, err := load(fmt.Errorf("open: %w", fs.ErrNotExist)); !errors.As(err, &invalid) {
		t.Fatalf("absent source: %T %v, want InvalidInput", err, err)
	}
	c, err := load()
	if err != nil {
		t.Fatal(err)
	}
	if tbl, _ := c.Catalog.Table("customers"); len(tbl.Columns) != 2 {
		t.Fatalf("loaded catalog columns: %+v", tbl.Columns)
	}
}
