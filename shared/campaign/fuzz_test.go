package campaign_test

import (
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Decoding any bytes never panics, and every diagnostic has a position.
func FuzzParseCampaign(f *testing.F) {
	for _, s := range []string{
		"version: 1\nid: a\nactivities:\n  - { id: x, type: build-audience }\n",
		"{\"version\": 1, \"id\": \"a\", \"activities\": [{\"id\": \"x\", \"type\": \"split\", \"from\": [\"a\", \"b.c\"]}]}",
		"version: 1\nschedule: { cron: '0 9 * * 1', from: 2026-01-01 }\nparameters: { p: { type: date, default: 2026-01-01 } }\nactivities: []\n",
		"activities:\n  - &a { id: x }\n  - *a\n",
		"- [",
		// Hostile shapes: a recursive alias, a billion laughs, deep nesting.
		"version: 1\nid: x\nvariables:\n  v: &a [*a]\nactivities: []\n",
		laughs(9),
		nested(200),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, diags := campaign.ParseCampaign("f.yaml", data)
		for _, d := range diags {
			if d.Pos.Line < 1 || d.Message == "" {
				t.Fatalf("diagnostic without position or message: %+v", d)
			}
		}
		if c == nil && !diags.HasErrors() {
			t.Fatal("no campaign and no error")
		}
		campaign.ParseCatalog("k.yaml", data)
	})
}
