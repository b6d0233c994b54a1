package compile_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// bigCampaign builds a 500-activity campaign: 100 chains of
// build-audience → deduplication → split → combine(prev, this) → save-audience.
func bigCampaign() string {
	var b strings.Builder
	b.WriteString(header + "activities:\n")
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "  - { id: q%d, type: build-audience, where: { field: emailOptIn, op: eq, value: true } }\n", i)
		fmt.Fprintf(&b, "  - { id: d%d, type: deduplication, from: q%d, by: [email] }\n", i, i)
		fmt.Fprintf(&b, "  - id: s%d\n    type: split\n    from: d%d\n    segments: [{ name: a, where: { field: country, op: eq, value: FR } }]\n    others: true\n", i, i)
		if i == 0 {
			fmt.Fprintf(&b, "  - { id: c%d, type: combine, from: [s%d.a, s%d.others], operation: union }\n", i, i, i)
		} else {
			fmt.Fprintf(&b, "  - { id: c%d, type: combine, from: [s%d.a, c%d], operation: union }\n", i, i, i-1)
		}
		fmt.Fprintf(&b, "  - { id: v%d, type: save-audience, from: c%d, audience: aud%d }\n", i, i, i)
	}
	return b.String()
}

func BenchmarkCompile500(b *testing.B) {
	src := []byte(bigCampaign())
	cat := loadCatalog(b)
	reg := builtin.Registry()
	chk := builtin.Checkers()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, diags := campaign.ParseCampaign("big.yaml", src)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		p, diags := compile.Compile(c, cat, reg, nil, chk)
		if diags.HasErrors() {
			b.Fatal(diags)
		}
		if len(c.Activities) != 500 || len(p.JSON) == 0 {
			b.Fatal("not 500 activities")
		}
	}
}

// BenchmarkLoadPlan500 is what a task pays where it used to compile the
// bundle again: loading the 500-activity campaign's runtime plan from the
// blob store, checking its digest and decoding the configs.
func BenchmarkLoadPlan500(b *testing.B) {
	c, diags := campaign.ParseCampaign("big.yaml", []byte(bigCampaign()))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	p, diags := compile.Compile(c, loadCatalog(b), builtin.Registry(), nil, builtin.Checkers())
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	bs, err := folderblob.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := (&compile.Publisher{Blob: bs}).Publish(ctx, p.Campaign.ID, p.Bundle); err != nil {
		b.Fatal(err)
	}
	reg := builtin.Registry()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		comp, err := (&runner.Plans{Blob: bs, Registry: reg}).Load(ctx, p.Campaign.ID, p.Bundle.Digest)
		if err != nil || len(comp.Campaign.Activities) != 500 {
			b.Fatal(err)
		}
	}
}
