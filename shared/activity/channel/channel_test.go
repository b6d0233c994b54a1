package channel_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send/outbox"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// basePopulation covers every skip reason of the email activity `news`.
func basePopulation() []cust {
	return []cust{
		{ID: "c01", Name: "Ann <b>&</b> Bob", Email: "ann@example.com", EmailOK: yes, Tier: "gold", TZ: "Europe/Paris"},
		{ID: "c02", Name: "Ben", Email: "BEN@Example.com", EmailOK: yes, TZ: "America/New_York"},
		{ID: "c03", Name: "Cid", Email: "", EmailOK: yes},                // no address
		{ID: "c04", Name: "Dee", Email: "not-an-email", EmailOK: yes},    // invalid address
		{ID: "c05", Name: "Eve", Email: "eve@example.com", EmailOK: no},  // no consent
		{ID: "c06", Name: "Fay", Email: "fay@example.com"},               // consent null: no consent
		{ID: "c07", Name: "Gus", Email: "gus@example.com", EmailOK: yes}, // suppressed
		{ID: "c08", Name: "Hal", Email: "hal@example.com", EmailOK: yes},
		{ID: "c08", Name: "Hal", Email: "hal2@example.com", EmailOK: yes}, // duplicate key
		{ID: "c09", Name: "Ivy", Email: "ivy@example.com", EmailOK: yes},
		{ID: "c10", Name: "Joe", Email: "joe@example.com", EmailOK: yes},
	}
}

func TestEmailOutbox(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.store.Suppress(ctx, state.Suppression{Channel: "email", Address: "GUS@example.com", Reason: state.SuppressComplaint})
	in := h.population("run1", basePopulation())
	res := h.run("news", "run1", false, in)
	out, skipped := h.rows(res, "out"), h.rows(res, "skipped")
	reasons := byID(skipped, "reason")
	t.Logf("out %v skipped %v", keys(byID(out, "messageId")), reasons)
	var got []string
	for _, r := range h.sentTo("run1", "news") {
		got = append(got, eligibleNews[r])
	}
	checkRecipients(t, got, byID(out, "messageId"), reasons, true)
	recs, err := outbox.ReadFile(outbox.Path(h.outbox.Dir(), "run1", "news"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(out) {
		t.Fatalf("%d messages in the outbox, %d rows on out", len(recs), len(out))
	}
	for _, r := range recs {
		if r.Tags["recipient"] == "c01" {
			if !strings.Contains(r.HTML, "<h1>Hello Ann &lt;b&gt;&amp;&lt;/b&gt; Bob</h1>") {
				t.Errorf("html not escaped: %s", r.HTML)
			}
			if !strings.Contains(r.Text, "Hi Ann <b>&</b> Bob") {
				t.Errorf("text escaped: %s", r.Text)
			}
		}
		var lu, lup string
		for _, hd := range r.Headers {
			switch hd.Name {
			case "List-Unsubscribe":
				lu = hd.Value
			case "List-Unsubscribe-Post":
				lup = hd.Value
			}
		}
		if lup != "List-Unsubscribe=One-Click" || !strings.Contains(lu, "<https://api.shop.example/unsubscribe/") || !strings.HasPrefix(lu, "<mailto:unsubscribe@shop.example?subject=") {
			t.Errorf("headers: %q %q", lu, lup)
		}
		tok := lu[strings.Index(lu, "/unsubscribe/")+len("/unsubscribe/") : len(lu)-1]
		c, err := unsubscribe.Verify(testSecret, tok)
		if err != nil || c.Recipient != r.Tags["recipient"] || c.Address != r.To || c.Run != "run1" || c.Activity != "news" {
			t.Errorf("token claims %+v %v", c, err)
		}
	}
}
