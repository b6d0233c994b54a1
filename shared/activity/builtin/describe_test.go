package builtin_test

import (
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
)

// The registry's describers say the win-back's activities in plain words.
func TestDescribeWinback(t *testing.T) {
	p, diags := builtin.CompileFiles("../../../examples/winback.yaml", "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string]string{
		"lapsed":      "Customers where lastPurchaseAt is before 90 days ago and emailOptIn is true and the sum of purchases.amount is at least 100.",
		"onePerEmail": "Keep one per email, the highest spend365.\nThe other rows go to duplicates.",
		"byValue": "Segment vip (code VIP): rows where spend365 is at least 500, at most 1000, the highest spend365 first.\n" +
			"Segment regular (code REG): rows where orders365 is at least 1.\nSegment sample: any row, 10% at random; not activated when empty.\n" +
			"A row goes to the first segment it fits.\nEveryone else goes to others.",
		"saveVips": "Save the input as a new version of the audience vip-winback, with email and spend365.",
	}
	got := map[string]string{}
	for _, a := range p.Campaign.Activities {
		lines, ok := p.Specs[a.ID].Describe(p.Campaign, a.Config)
		if ok {
			got[a.ID] = strings.Join(lines, "\n")
		}
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s:\n got %q\nwant %q", id, got[id], w)
		}
	}
	if s := got["sendVip"]; !strings.HasPrefix(s, "Email '{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off this {{ variables.season }}' to the input.") ||
		!strings.Contains(s, "Not sent between 21:00 and 08:00 in the recipient's time zone (quiet hours).") ||
		!strings.Contains(s, "At most 2 messages a recipient every 7 days") {
		t.Errorf("sendVip: %q", s)
	}
	if _, ok := p.Specs["enriched"].Describe(p.Campaign, p.Campaign.Activities[1].Config); ok {
		t.Error("enrichment has no describer: the console falls back to its keys")
	}
}
