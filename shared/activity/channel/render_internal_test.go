package channel

import (
	"os"
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

// The per-message work of a test run's render, as it was (a fresh value
// map, the header concatenated around the link, tags) and as it is:
//
//	go test ./shared/activity/channel -run '^$' -bench RenderTestMessage -benchmem
func BenchmarkRenderTestMessage(b *testing.B) {
	html, err := os.ReadFile("../../../examples/templates/reference.html")
	if err != nil {
		b.Skip(err)
	}
	x := &Config{Message: Message{From: "Shop <news@shop.example>", Subject: "{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off",
		HTML: &Content{Inline: string(html)}}}
	comp := &activity.Compiled{Campaign: &campaign.Campaign{ID: "reference", Name: "Reference"}}
	req := &activity.Request{Activity: "mailActive", Run: activity.RunInfo{ID: "01a2519e-592a-780e-9cc2-a1f2f9c089a0"}}
	row := map[string]any{"customerId": "c0001234", "firstName": "Jane", "email": "jane.doe@example.com", "orders365": int64(4),
		"spend365": 1234.5, "city": "Lyon", "signupAt": time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)}
	schema := campaign.Schema{Dimension: "customers", Columns: []campaign.Column{{Name: "customerId", Type: campaign.TypeString},
		{Name: "firstName", Type: campaign.TypeString}, {Name: "email", Type: campaign.TypeString}, {Name: "orders365", Type: campaign.TypeInteger},
		{Name: "spend365", Type: campaign.TypeNumber}, {Name: "city", Type: campaign.TypeString}, {Name: "signupAt", Type: campaign.TypeTimestamp}}}
	prep, err := parseAll(comp, x)
	if err != nil {
		b.Fatal(err)
	}
	sl := SignedLinks{BaseURL: "https://api.shop.example", Secret: []byte("0123456789abcdef0123456789abcdef")}
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	fill := func(m map[string]any) {
		for k, v := range row {
			m[k] = v
		}
	}
	b.Run("before", func(b *testing.B) {
		rn := newRenderer(&Kind{Type: send.Email}, x, comp, req, schema, sl, at)
		rn.unsubHeader = headerOf(rn.unsub)
		b.ReportAllocs()
		for b.Loop() {
			r := &recipient{key: "c0001234", address: "jane.doe@example.com", values: make(map[string]any, len(row)+7)}
			fill(r.values)
			if _, err := rn.render(prep.base, r, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("after", func(b *testing.B) {
		rn := newRenderer(&Kind{Type: send.Email}, x, comp, req, schema, sl, at)
		d := &deliverer{}
		b.ReportAllocs()
		for b.Loop() {
			r := &recipient{key: "c0001234", address: "jane.doe@example.com", values: d.valuesMap(len(row) + 7)}
			fill(r.values)
			if _, err := rn.content(prep.base, r); err != nil {
				b.Fatal(err)
			}
			d.recycle(r)
		}
	})
}
