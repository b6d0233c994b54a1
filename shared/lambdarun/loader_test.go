package lambdarun_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

const loaderCampaign = `version: 1
id: lite
name: Lite
dimension: customers
timezone: Europe/Paris
parameters:
  region: { type: string, default: eu }
maxConsecutiveErrors: 2
onError: ignore
activities:
  - { id: everyone, type: build-audience, where: { field: email, op: isNotEmpty } }
  - { id: done, type: end, from: everyone, trigger: { campaign: follow-up } }
`

const loaderCatalog = `version: 1
tables:
  - name: customers
    key: [customerId]
    source: customers.csv
    columns:
      - { name: customerId, type: string }
      - { name: email, type: string }
`

func publishLite(t *testing.T) (*folderblob.Store, *compile.Bundle) {
	t.Helper()
	c, diags := campaign.ParseCampaign("/src/lite.yaml", []byte(loaderCampaign))
	cat, cd := campaign.ParseCatalog("/src/catalog.yaml", []byte(loaderCatalog))
	if diags.HasErrors() || cd.HasErrors() {
		t.Fatal(diags, cd)
	}
	b, err := compile.NewBundle(c, cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := (&compile.Loader{Blob: bs}).Publish(context.Background(), "lite", b); err != nil {
		t.Fatal(err)
	}
	return bs, b
}

// TestParseLoader: run-level functions see the campaign header; flow
// functions also their own configs; other types stay undecoded.
func TestParseLoader(t *testing.T) {
	bs, b := publishLite(t)
	ctx := context.Background()
	c, err := (&lambdarun.ParseLoader{Blob: bs}).Load(ctx, "lite", b.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if c.Campaign.Timezone != "Europe/Paris" || c.Campaign.MaxConsecutiveErrors != 2 || c.Campaign.Parameters["region"].Type != "string" || c.Hash != b.Hash {
		t.Errorf("header %+v", c.Campaign)
	}
	reg := activity.NewRegistry()
	flow.Register(reg)
	c, err = (&lambdarun.ParseLoader{Blob: bs, Registry: reg}).Load(ctx, "lite", b.Hash)
	if err != nil {
		t.Fatal(err)
	}
	_, cfg, _ := c.Config("done")
	if end, ok := cfg.(*flow.EndConfig); !ok || end.Trigger == nil || end.Trigger.Campaign != "follow-up" {
		t.Errorf("end config %#v", cfg)
	}
	if _, cfg, _ := c.Config("everyone"); cfg != nil {
		t.Errorf("build-audience config decoded without its spec: %#v", cfg)
	}
	var inv *activity.InvalidInput
	if _, err := (&lambdarun.ParseLoader{Blob: bs}).Load(ctx, "lite", "0000000000000000"); !errors.As(err, &inv) {
		t.Errorf("missing bundle: %v, want InvalidInput", err)
	}
}
