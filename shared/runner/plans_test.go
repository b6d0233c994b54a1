package runner_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/plan"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// countingReads answers schema reads with cols and counts them.
type countingReads struct {
	cols []campaign.Column
	n    int
}

func (s *countingReads) SourceColumns(context.Context, string) ([]campaign.Column, error) {
	s.n++
	return s.cols, nil
}

const planCatalog = `version: 1
tables:
  - { name: customers, key: [id], source: "s3://data/customers.parquet", targeting: { email: email } }
`

const planCampaign = `version: 1
id: c
dimension: customers
variables: { minimum: 5, ratio: 0.5, label: "x" }
activities:
  - { id: a, type: build-audience, where: { field: email, op: isNotEmpty } }
  - { id: b, type: split, from: a, segments: [{ name: half, where: { field: email, op: contains, value: "@" } }] }
`

func compileIn(t *testing.T, dir string, reads campaign.SchemaReader) *compile.Program {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(planCatalog), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(planCampaign), 0o644)
	p, diags := compile.CompileFiles(context.Background(), filepath.Join(dir, "c.yaml"), "", builtin.Registry(), builtin.Checkers(), reads)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func publish(t *testing.T, p *compile.Program) *folderblob.Store {
	t.Helper()
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := (&compile.Publisher{Blob: bs}).Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
		t.Fatal(err)
	}
	return bs
}

// The plan carries the columns the compiler read from the sources: a
// handler loading it reads no source, and sees the same catalog.
func TestPlanCarriesSourceColumns(t *testing.T) {
	reads := &countingReads{cols: []campaign.Column{{Name: "id", Type: "string"}, {Name: "email", Type: "string"}}}
	p := compileIn(t, t.TempDir(), reads)
	if reads.n == 0 {
		t.Fatal("the compiler read no source schema")
	}
	n := reads.n
	c, err := (&runner.Plans{Blob: publish(t, p), Registry: builtin.Registry()}).Load(context.Background(), "c", p.Bundle.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if tbl, _ := c.Catalog.Table("customers"); len(tbl.Columns) != 2 || reads.n != n {
		t.Fatalf("loaded catalog columns %+v after %d more reads", tbl.Columns, reads.n-n)
	}
}

// A handler decodes the configs of the plan exactly as the compiler did,
// and sees the same ports, schemas and variables.
func TestPlanDecodesAsCompiled(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.yaml")
	for _, f := range files {
		if strings.HasSuffix(f, "catalog.yaml") {
			continue
		}
		p, diags := builtin.CompileFiles(f, "")
		if diags.HasErrors() {
			t.Fatalf("%s: %v", f, diags)
		}
		c, err := (&runner.Plans{Blob: publish(t, p), Registry: builtin.Registry()}).Load(context.Background(), p.Campaign.ID, p.Bundle.Digest)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want := p.Compiled()
		for _, a := range p.Campaign.Activities {
			got, cfg, ok := c.Config(a.ID)
			if !ok || !reflect.DeepEqual(cfg, a.Config) || got.Type != a.Type {
				t.Errorf("%s: activity %s: config %#v, compiled %#v", f, a.ID, cfg, a.Config)
			}
			if !reflect.DeepEqual(c.Ports[a.ID], want.Ports[a.ID]) || !reflect.DeepEqual(c.Schemas[a.ID], want.Schemas[a.ID]) {
				t.Errorf("%s: activity %s: ports %v schemas %v, compiled %v %v", f, a.ID, c.Ports[a.ID], c.Schemas[a.ID], want.Ports[a.ID], want.Schemas[a.ID])
			}
		}
		if !reflect.DeepEqual(c.Campaign.Variables, p.Campaign.Variables) || !reflect.DeepEqual(c.Campaign.Parameters, p.Campaign.Parameters) {
			t.Errorf("%s: variables %v parameters %v, compiled %v %v", f, c.Campaign.Variables, c.Campaign.Parameters, p.Campaign.Variables, p.Campaign.Parameters)
		}
		if !reflect.DeepEqual(c.States, want.States) || len(c.States.Activities) == 0 {
			t.Errorf("%s: state names differ", f)
		}
	}
}

// The same campaign compiled in two folders has one digest: the ASL does
// not depend on where it was compiled.
func TestPlanDigestIgnoresLocation(t *testing.T) {
	reads := &countingReads{cols: []campaign.Column{{Name: "id", Type: "string"}, {Name: "email", Type: "string"}}}
	a, b := compileIn(t, t.TempDir(), reads), compileIn(t, t.TempDir(), reads)
	if a.Bundle.Digest != b.Bundle.Digest || !bytes.Equal(a.JSON, b.JSON) {
		t.Fatalf("digests %s and %s", a.Bundle.Digest, b.Bundle.Digest)
	}
}

// A plan changed after it was compiled is refused, whether or not its
// recorded digest was changed with it.
func TestTamperedPlanRefused(t *testing.T) {
	reads := &countingReads{cols: []campaign.Column{{Name: "id", Type: "string"}, {Name: "email", Type: "string"}}}
	p := compileIn(t, t.TempDir(), reads)
	bs := publish(t, p)
	ctx := context.Background()
	key := plan.Key("c", p.Bundle.Digest)
	rc, err := bs.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	l, err := plan.Unmarshal(stored, p.Bundle.Digest)
	if err != nil {
		t.Fatal(err)
	}
	// Widen the audience: the campaign the plan carries now keeps every row.
	l.Plan.Campaign = strings.Replace(l.Plan.Campaign, "isNotEmpty", "isEmpty", 1)
	data, digest, err := l.Plan.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, recorded := range map[string]string{"same digest recorded": p.Bundle.Digest, "digest recomputed": digest} {
		forged, _ := plan.Marshal(data, recorded, l.Where, l.States)
		if err := bs.Put(ctx, key, bytes.NewReader(forged)); err != nil {
			t.Fatal(err)
		}
		_, err := (&runner.Plans{Blob: bs, Registry: builtin.Registry()}).Load(ctx, "c", p.Bundle.Digest)
		var invalid *activity.InvalidInput
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "does not match its digest") {
			t.Errorf("%s: %v, want the plan refused", name, err)
		}
	}
	// A plan that is not stored is invalid input (publish again), not retried.
	_, err = (&runner.Plans{Blob: bs, Registry: builtin.Registry()}).Load(ctx, "c", "0000000000000000")
	var invalid *activity.InvalidInput
	if !errors.As(err, &invalid) {
		t.Errorf("missing plan: %T %v", err, err)
	}
}
