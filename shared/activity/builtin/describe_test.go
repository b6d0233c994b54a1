package builtin_test

import (
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
)

// describeFile compiles a campaign file and says each of its activities in
// the words of its type's describer.
func describeFile(t *testing.T, file, catalog string) map[string]string {
	t.Helper()
	p, diags := builtin.CompileFiles(file, catalog)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	got := map[string]string{}
	for i := range p.Campaign.Activities {
		a := &p.Campaign.Activities[i]
		lines, ok := p.Specs[a.ID].Describe(p.Campaign, a, a.Config)
		if !ok {
			t.Errorf("%s (%s) has no describer", a.ID, a.Type)
		}
		got[a.ID] = strings.Join(lines, "\n")
	}
	return got
}

func checkWords(t *testing.T, got, want map[string]string) {
	t.Helper()
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s:\n got %q\nwant %q", id, got[id], w)
		}
	}
}

// Every registered type says its settings in words: none falls back to keys.
func TestDescribeEveryType(t *testing.T) {
	r := builtin.Registry()
	for _, typ := range r.Types() {
		s, _ := r.Lookup(typ)
		if _, ok := s.Describe(nil, nil, s.NewConfig()); !ok {
			t.Errorf("activity type %s has no describer (Def.Describe)", typ)
		}
	}
}

// The registry's describers say the win-back's activities in plain words.
func TestDescribeWinback(t *testing.T) {
	got := describeFile(t, "../../../examples/winback.yaml", "")
	checkWords(t, got, map[string]string{
		"lapsed": "Customers where lastPurchaseAt is before 90 days ago and emailOptIn is true and the sum of purchases.amount is at least 100.",
		"enriched": "Add to each row: store.city, as city.\n" +
			"Add to each row: the number of purchases where purchasedAt is after 365 days ago, as orders365.\n" +
			"Add to each row: the sum of purchases.amount where purchasedAt is after 365 days ago, as spend365.\n" +
			"Add to each row: the first two purchases, the highest purchasedAt first (sku and amount), as lastItems1Sku to lastItems2Amount.",
		"onePerEmail": "Keep one per email, the highest spend365.\nThe other rows go to duplicates.",
		"byValue": "Segment vip (code VIP): rows where spend365 is at least 500, at most 1000, the highest spend365 first.\n" +
			"Segment regular (code REG): rows where orders365 is at least 1.\nSegment sample: any row, 10% at random; not activated when empty.\n" +
			"A row goes to the first segment it fits.\nEveryone else goes to others.",
		"saveVips": "Save the input as a new version of the audience vip-winback, with email and spend365.",
	})
	if s := got["sendVip"]; !strings.HasPrefix(s, "Email '{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off this {{ variables.season }}' to the input.") ||
		!strings.Contains(s, "Not sent between 21:00 and 08:00 in the recipient's time zone (quiet hours).") ||
		!strings.Contains(s, "At most 2 messages a recipient every 7 days") {
		t.Errorf("sendVip: %q", s)
	}
}

// The data, set and flow types in the words of their describers, on the
// examples, the bench campaigns and the empty-input cases.
func TestDescribeEachType(t *testing.T) {
	const cat = "../../../examples/catalog.yaml"
	checkWords(t, describeFile(t, "../../../examples/import.yaml", ""), map[string]string{
		"fileRows": "Load the file named by the parameter file (CSV, header row), reject rows with a missing email and a bad points.\n" +
			"Columns: email (string, lower-cased); points (integer); newTier (string, from tier, lower-cased); joined (date, as 2006-01-02, empty when bad).\n" +
			"Fails beyond 100 rejected rows.",
		"known":         "Match the file's email to customers.email.\nRows matching no customers row, or several, go to unmatched.",
		"upgrade":       "Update customers by customerId: set emailOptIn to true, set tier to the input's newTier.\nRows whose key is not in customers go to rejects.",
		"reportUnknown": "Alert the campaign's operators: 'Unknown leads'.\nMessage: Some leads match no customer, or several.\nThen pass the input on.",
	})
	checkWords(t, describeFile(t, "../../../examples/newsletter.yaml", ""), map[string]string{
		"enough": "Goes to big when the count of subscribers is more than 100.\nGoes to else otherwise.",
		"fan":    "Send the whole input down each of mail and app at once.",
		"both":   "Wait until sendMail and sendPush are all done.\nThen go on with the rows of sendMail (or, if its branch did not run, of the first one that did).",
		"pause":  "Wait 1 hour, then pass the input on.",
		"done":   "End this branch.",
	})
	checkWords(t, describeFile(t, "../../../bench/campaigns/segments.yaml", cat), map[string]string{
		"bigBuyers":      "The customers linked to the input through customer, each once.",
		"loyalPurchases": "The purchases linked to the input through purchases, once per input row linked to them.",
		"loyalRecent":    "Keep the rows found in both loyalPurchases and recentPurchases.",
		"target":         "Keep the rows found in any of bigBuyers or loyalBuyers, each once.",
		"home":           "Keep the rows of target not found in abroad.\nThe rows left out go to complement.",
	})
	checkWords(t, describeFile(t, "../../../bench/campaigns/leads.yaml", cat), map[string]string{
		"upgrade": "Update customers by customerId: set tier to the input's newTier.\nRows whose key is not in customers go to rejects.",
	})
	cases := "emptycase/cases/"
	checkWords(t, describeFile(t, cases+"read-audience.yaml", cat), map[string]string{
		"subject": "The current version of the saved audience empty-audience.",
	})
	checkWords(t, describeFile(t, cases+"incremental-query.yaml", cat), map[string]string{
		"subject": "Customers where country is ZZ.\nOnly those whose signupAt is later than the latest one returned by earlier runs (all of them on the first run).",
	})
	checkWords(t, describeFile(t, cases+"scheduler.yaml", cat), map[string]string{
		"subject": "Start the campaign on the schedule 0 9 * * 1 (cron).",
	})
	checkWords(t, describeFile(t, cases+"sms.yaml", cat), map[string]string{
		"subject": "SMS 'Hi {{ recipient.firstName }}' to the input.\nMarketing: only to recipients who consent, with an unsubscribe link.\n" +
			"Not sent between 21:00 and 08:00 in the recipient's time zone (quiet hours).",
	})
	checkWords(t, describeFile(t, cases+"enrichment.yaml", cat), map[string]string{
		"subject": "Add to each row: store.city, as city.\nAdd to each row: the number of purchases, as orders.\nAdd to each row: the sum of purchases.amount, as spend.\n" +
			"Add to each row: the first two purchases, the highest purchasedAt first (sku), as last1Sku to last2Sku.\n" +
			"Add to each row: tier of the matching row of nobody2 (customerId = customerId), as otherTier.",
	})
	checkWords(t, describeFile(t, cases+"update-data.yaml", cat), map[string]string{
		"upsert": "Update customers by customerId, insert new rows: set tier to gold.",
		"remove": "Delete from customers the rows of the input by customerId.\nRows whose key is not in customers go to rejects.",
	})
}
