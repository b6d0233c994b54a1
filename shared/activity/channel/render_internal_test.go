package channel

import (
	"fmt"
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
				got, err := fast.content(prep.base, r, true)
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

// A message rendered and checked without keeping its texts fails as the
// kept one does: blank subject, body, SMS text, push title and body, and a
// render error.
func TestCheckedContentFailsAsKept(t *testing.T) {
	comp := &activity.Compiled{Campaign: &campaign.Campaign{ID: "camp", Name: "Camp"}}
	req := &activity.Request{Activity: "msg", Run: activity.RunInfo{ID: "01a2519e-592a-780e-9cc2-a1f2f9c089a0"}}
	schema := campaign.Schema{Dimension: "customers", Columns: []campaign.Column{{Name: "name", Type: campaign.TypeString}}}
	inline := func(s string) *Content { return &Content{Inline: s} }
	cases := []struct {
		kind string
		msg  Message
	}{
		{send.Email, Message{From: "a@b.example", Subject: "{{ recipient.name }}", HTML: inline("<p>hi</p>")}},
		{send.Email, Message{From: "a@b.example", Subject: "Hi", HTML: inline("  {{ recipient.name }} \n")}},
		{send.Email, Message{From: "a@b.example", Subject: "Hi", HTML: inline(" {{ recipient.name }}"), Text: inline("{{ recipient.name }}!")}},
		{send.Email, Message{From: "a@b.example", Subject: "Hi", Text: inline("\t")}},
		{send.Email, Message{From: "a@b.example", Subject: "Hi {{ recipient.name | divided_by: 0 }}", HTML: inline("x")}},
		{send.SMS, Message{Sender: "Shop", Text: inline("{{ recipient.name }}")}},
		{send.Push, Message{Title: " {{ recipient.name }}", Body: ""}},
		{send.Push, Message{Title: "", Body: "{{ recipient.name }}", Data: map[string]string{"a": "{{ recipient.name }}"}}},
	}
	for i, c := range cases {
		x := &Config{Message: c.msg}
		prep, err := parseAll(comp, x)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		for _, name := range []any{nil, "", " ", "Jane"} {
			rn := newRenderer(&Kind{Type: c.kind}, x, comp, req, schema, SignedLinks{BaseURL: "https://shop.example", Secret: []byte("0123456789abcdef")}, time.Unix(0, 0))
			r := &recipient{key: "k", address: "a@example.com", values: map[string]any{"name": name}}
			_, kerr := rn.content(prep.base, r, true)
			_, cerr := rn.content(prep.base, r, false)
			if fmt.Sprint(kerr) != fmt.Sprint(cerr) {
				t.Errorf("case %d, name %q: kept %v, checked %v", i, name, kerr, cerr)
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
	// kept: a proof's; checked: every other message of a test run.
	for _, keep := range []bool{true, false} {
		b.Run(map[bool]string{true: "kept", false: "checked"}[keep], func(b *testing.B) {
			rn := newRenderer(&Kind{Type: send.Email}, x, comp, req, schema, sl, at)
			d := &deliverer{}
			b.ReportAllocs()
			for b.Loop() {
				r := &recipient{key: "c0001234", address: "jane.doe@example.com", values: d.valuesMap(len(row) + 7)}
				fill(r.values)
				if _, err := rn.content(prep.base, r, keep); err != nil {
					b.Fatal(err)
				}
				d.recycle(r)
			}
		})
	}
}
