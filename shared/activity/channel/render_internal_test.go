package channel

import (
	"reflect"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// plainLinks hides SignedLinks' shared and header paths: the renderer signs
// each token whole and builds the header by concatenation.
type plainLinks struct{ SignedLinks }

func (p plainLinks) Unsubscribe(c unsubscribe.Claims) (string, string) {
	return p.SignedLinks.Unsubscribe(c)
}

// The List-Unsubscribe value built around the signed token and the URL cut
// from it are the bytes of a token signed whole and concatenated; content
// then tag is render.
func TestRenderHeaderLinksAgree(t *testing.T) {
	x := &Config{Message: Message{From: "Shop <news@shop.example>", Subject: "{{ recipient.name }}, hello",
		HTML: &Content{Inline: `<p>{{ recipient.name }}</p><a href="{{ message.unsubscribeUrl }}">stop</a>`}}}
	comp := &activity.Compiled{Campaign: &campaign.Campaign{ID: "camp", Name: "Camp"}}
	req := &activity.Request{Activity: "mail", Run: activity.RunInfo{ID: "01a2519e-592a-780e-9cc2-a1f2f9c089a0"}}
	schema := campaign.Schema{Dimension: "customers", Columns: []campaign.Column{{Name: "name", Type: campaign.TypeString}}}
	prep, err := parseAll(comp, x)
	if err != nil {
		t.Fatal(err)
	}
	kind := &Kind{Type: send.Email}
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	secret := []byte("0123456789abcdef0123456789abcdef")
	recipients := []*recipient{
		{key: "c0000001", address: "jane@example.com", values: map[string]any{"name": "Jane"}},
		{key: `q"k<é>`, address: "ané+x@example.com", values: map[string]any{"name": nil}},
		{key: "", address: "", values: map[string]any{}},
	}
	for _, base := range []string{"https://api.shop.example", "https://api.shop.example/"} {
		for _, mailto := range []string{"", "unsubscribe@shop.example"} {
			sl := SignedLinks{BaseURL: base, Secret: secret, Mailto: mailto}
			fast := newRenderer(kind, x, comp, req, schema, sl, at)
			slow := newRenderer(kind, x, comp, req, schema, plainLinks{sl}, at)
			for _, r := range recipients {
				want, err := slow.render(prep.base, r, "tok")
				if err != nil {
					t.Fatal(err)
				}
				got, err := fast.content(prep.base, r)
				if err != nil {
					t.Fatal(err)
				}
				if got.Tags != nil || got.IdempotencyKey != "" {
					t.Fatalf("content tagged: %+v", got)
				}
				fast.tag(got, r, "tok")
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("base %s, mailto %q, %q:\n got %+v\nwant %+v", base, mailto, r.key, got, want)
				}
			}
		}
	}
}
