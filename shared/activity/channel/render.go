package channel

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unsafe"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/template"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// Links makes the unsubscribe links of a marketing message.
type Links interface {
	// Unsubscribe returns the one-click HTTPS URL and, optionally, a mailto URL.
	Unsubscribe(c unsubscribe.Claims) (https, mailto string)
}

// SignedLinks signs unsubscribe tokens with the API's secret: the HTTPS link
// is BaseURL/unsubscribe/<token> (the API acts on POST only, RFC 8058); the
// mailto link, when Mailto is set, carries the token in its subject.
type SignedLinks struct {
	BaseURL string
	Secret  []byte
	Mailto  string
}

// Unsubscribe implements Links.
func (s SignedLinks) Unsubscribe(c unsubscribe.Claims) (string, string) {
	return s.links(unsubscribe.Sign(s.Secret, c))
}

func (s SignedLinks) links(tok string) (string, string) {
	mailto := ""
	if s.Mailto != "" {
		mailto = "mailto:" + s.Mailto + "?subject=" + url.PathEscape("unsubscribe "+tok)
	}
	return unsubscribe.URL(s.BaseURL, tok), mailto
}

// For implements sharedLinks: the claims every message of a slice shares
// are encoded once (unsubscribe.Signer).
func (s SignedLinks) For(shared unsubscribe.Claims) func(recipient, address string) (string, string) {
	sg := unsubscribe.NewSigner(s.Secret, shared)
	return func(recipient, address string) (string, string) { return s.links(sg.Sign(recipient, address)) }
}

// Header implements headerLinks: without a mailto link, the header value
// "<URL>" is built in one buffer around the signed token and the URL is
// its inside (a token is base64url and a dot: PathEscape leaves it as is).
func (s SignedLinks) Header(shared unsubscribe.Claims) func(recipient, address string) (https, header string) {
	if s.Mailto != "" {
		return headerOf(s.For(shared))
	}
	sg := unsubscribe.NewSigner(s.Secret, shared)
	prefix := "<" + unsubscribe.URL(s.BaseURL, "")
	return func(recipient, address string) (string, string) {
		b := make([]byte, 0, len(prefix)+sg.TokenLen(recipient, address)+1)
		b = append(b, prefix...)
		b = sg.AppendSign(b, recipient, address)
		b = append(b, '>')
		h := unsafe.String(unsafe.SliceData(b), len(b))
		return h[1 : len(h)-1], h
	}
}

// headerOf makes the List-Unsubscribe value of links: "<mailto>, <https>"
// or "<https>".
func headerOf(links func(recipient, address string) (https, mailto string)) func(recipient, address string) (string, string) {
	return func(recipient, address string) (string, string) {
		https, mailto := links(recipient, address)
		v := "<" + https + ">"
		if mailto != "" {
			v = "<" + mailto + ">, " + v
		}
		return https, v
	}
}

// headerLinks is Links that builds the List-Unsubscribe value itself.
type headerLinks interface {
	Header(shared unsubscribe.Claims) func(recipient, address string) (https, header string)
}

// sharedLinks is Links that prepares the links of messages sharing all
// claims but recipient and address.
type sharedLinks interface {
	For(shared unsubscribe.Claims) func(recipient, address string) (https, mailto string)
}

// arm is the templates of the message or of one experiment variant.
type arm struct {
	name                             string
	subject, html, text, title, body *template.Template
	data                             map[string]*template.Template
}

// prepared is the parsed templates of an activity, shared by its slices.
type prepared struct {
	base *arm
	arms []*arm // by variant index
}

// prepare parses an activity's templates once per Env (and bundle).
func prepare(env *activity.Env, comp *activity.Compiled, id string, x *Config) (*prepared, error) {
	v, err := env.Shared("channel.templates/"+comp.Digest+"/"+id, func() (any, error) {
		return parseAll(comp, x)
	})
	if err != nil {
		return nil, err
	}
	return v.(*prepared), nil
}

func parseAll(comp *activity.Compiled, x *Config) (*prepared, error) {
	parse := func(field, src string, html bool) (*template.Template, error) {
		if src == "" {
			return nil, nil
		}
		t, err := template.Parse(src, template.Options{HTML: html, Name: field})
		if err != nil {
			return nil, &activity.InvalidInput{Msg: fmt.Sprintf("message.%s: %v", field, err)}
		}
		return t, nil
	}
	content := func(field string, c *Content, html bool) (*template.Template, error) {
		if c == nil {
			return nil, nil
		}
		if c.File != "" {
			data, ok := comp.Files[c.File]
			if !ok {
				return nil, &activity.InvalidInput{Msg: fmt.Sprintf("message.%s: template file %s is not in the bundle", field, c.File)}
			}
			return parse(c.File, string(data), html)
		}
		return parse(field, c.Inline, html)
	}
	m := x.Message
	base := &arm{data: map[string]*template.Template{}}
	var err error
	set := func(dst **template.Template, t *template.Template, e error) {
		if err == nil {
			*dst, err = t, e
		}
	}
	{
		t, e := parse("subject", m.Subject, false)
		set(&base.subject, t, e)
		t, e = content("html", m.HTML, true)
		set(&base.html, t, e)
		t, e = content("text", m.Text, false)
		set(&base.text, t, e)
		t, e = parse("title", m.Title, false)
		set(&base.title, t, e)
		t, e = parse("body", m.Body, false)
		set(&base.body, t, e)
	}
	for _, k := range campaign.SortedKeys(m.Data) {
		t, e := parse("data."+k, m.Data[k], false)
		if e != nil && err == nil {
			err = e
		}
		base.data[k] = t
	}
	if err != nil {
		return nil, err
	}
	p := &prepared{base: base}
	if x.Experiment != nil {
		for _, v := range x.Experiment.Variants {
			a := *base
			a.name = v.Name
			if v.Subject != "" {
				t, e := parse("variants."+v.Name+".subject", v.Subject, false)
				set(&a.subject, t, e)
			}
			if v.HTML != nil {
				t, e := content("variants."+v.Name+".html", v.HTML, true)
				set(&a.html, t, e)
			}
			if v.Text != nil {
				t, e := content("variants."+v.Name+".text", v.Text, false)
				set(&a.text, t, e)
			}
			if v.Title != "" {
				t, e := parse("variants."+v.Name+".title", v.Title, false)
				set(&a.title, t, e)
			}
			if v.Body != "" {
				t, e := parse("variants."+v.Name+".body", v.Body, false)
				set(&a.body, t, e)
			}
			if err != nil {
				return nil, err
			}
			p.arms = append(p.arms, &a)
		}
	}
	return p, nil
}

// recipientColumns returns the recipient columns the templates read, or
// all=true when one reads the recipient as a whole or by a computed name.
func (p *prepared) recipientColumns() (cols []string, all bool) {
	seen := map[string]bool{}
	visit := func(t *template.Template) {
		if t == nil {
			return
		}
		for _, r := range t.Names() {
			if len(r.Path) == 0 || r.Path[0] != "recipient" {
				continue
			}
			if len(r.Path) < 2 || (r.Dynamic && len(r.Path) == 1) {
				all = true
				continue
			}
			if !seen[r.Path[1]] {
				seen[r.Path[1]] = true
				cols = append(cols, r.Path[1])
			}
		}
	}
	for _, a := range append([]*arm{p.base}, p.arms...) {
		for _, t := range []*template.Template{a.subject, a.html, a.text, a.title, a.body} {
			visit(t)
		}
		for _, k := range campaign.SortedKeys(a.data) {
			visit(a.data[k])
		}
	}
	return cols, all
}

func (p *prepared) arm(variant int) *arm {
	if variant >= 0 && variant < len(p.arms) {
		return p.arms[variant]
	}
	return p.base
}

// renderer builds the messages of one slice.
type renderer struct {
	kind      *Kind
	x         *Config
	comp      *activity.Compiled
	run       string
	act       string
	builder   *template.Builder
	issuedAt  time.Time
	marketing bool
	// unsub makes a recipient's unsubscribe links (nil: no links).
	unsub func(recipient, address string) (https, mailto string)
	// unsubHeader makes the https link and the List-Unsubscribe value
	// (set with unsub).
	unsubHeader func(recipient, address string) (https, header string)
}

func newRenderer(kind *Kind, x *Config, comp *activity.Compiled, req *activity.Request, recipient campaign.Schema, links Links, issuedAt time.Time) *renderer {
	c := comp.Campaign
	b := template.NewBuilder(template.CampaignScope(c, recipient), template.Shared{
		Params: req.Run.Params, Variables: c.Variables,
		Campaign: template.Campaign{ID: c.ID, Name: c.Name}, Run: template.Run{ID: req.Run.ID},
	})
	rn := &renderer{kind: kind, x: x, comp: comp, run: req.Run.ID, act: req.Activity, builder: b,
		issuedAt: issuedAt, marketing: x.Marketing()}
	if rn.marketing && kind.Type == send.Email && links != nil {
		shared := unsubscribe.Claims{Campaign: c.ID, Run: rn.run, Activity: rn.act, Channel: kind.Type, IssuedAt: issuedAt.Unix()}
		if sl, ok := links.(sharedLinks); ok {
			rn.unsub = sl.For(shared)
		} else {
			rn.unsub = func(recipient, address string) (string, string) {
				c := shared
				c.Recipient, c.Address = recipient, address
				return links.Unsubscribe(c)
			}
		}
		if hl, ok := links.(headerLinks); ok {
			rn.unsubHeader = hl.Header(shared)
		} else {
			rn.unsubHeader = headerOf(rn.unsub)
		}
	}
	return rn
}

// render builds the message of r with the templates of a.
func (rn *renderer) render(a *arm, r *recipient, token string) (*send.Message, error) {
	m, err := rn.content(a, r, true)
	if err != nil {
		return nil, err
	}
	rn.tag(m, r, token)
	return m, nil
}

// tag sets m's tags (the provider's message tags, the outbox's file name and
// the EML's X-Stepwise headers). A test run's messages are rendered and
// dropped: only those kept as proofs are tagged.
func (rn *renderer) tag(m *send.Message, r *recipient, token string) {
	m.IdempotencyKey = token
	m.Tags = map[string]string{send.TagCampaign: rn.comp.Campaign.ID, send.TagActivity: rn.act, send.TagRun: rn.run,
		send.TagRecipient: r.key, send.TagToken: token}
}

// content builds the message of r with the templates of a, without tags.
// Unless keep, the texts are rendered and checked but not kept (the
// message's text fields stay empty): a test run keeps only its proofs.
func (rn *renderer) content(a *arm, r *recipient, keep bool) (*send.Message, error) {
	var unsubURL string
	var headers []send.Header
	if rn.unsubHeader != nil {
		https, v := rn.unsubHeader(r.key, r.address)
		unsubURL = https
		headers = []send.Header{{Name: "List-Unsubscribe", Value: v}, {Name: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"}}
	}
	b := rn.builder.Bindings(r.values, template.Message{UnsubscribeURL: unsubURL})
	m := &send.Message{Channel: rn.kind.Type, To: r.address, Headers: headers, Marketing: rn.marketing}
	var err error
	var filledAt [4]*string // the fields rendered with more than white space
	filled := filledAt[:0]
	pick := func(dst *string, t *template.Template) {
		if err != nil || t == nil {
			return
		}
		if keep {
			*dst, err = t.Render(b)
			if strings.TrimSpace(*dst) != "" {
				filled = append(filled, dst)
			}
			return
		}
		var blank bool
		if blank, err = t.Blank(b); !blank {
			filled = append(filled, dst)
		}
	}
	blank := func(dst *string) bool { return !slices.Contains(filled, dst) }
	switch rn.kind.Type {
	case send.Email:
		m.From, m.ReplyTo = rn.x.Message.From, rn.x.Message.ReplyTo
		pick(&m.Subject, a.subject)
		pick(&m.HTML, a.html)
		pick(&m.Text, a.text)
		if err == nil && blank(&m.Subject) {
			err = fmt.Errorf("subject renders empty")
		}
		if err == nil && blank(&m.HTML) && blank(&m.Text) {
			err = fmt.Errorf("body renders empty")
		}
	case send.SMS:
		m.Sender = rn.x.Message.Sender
		pick(&m.Text, a.text)
		if err == nil && blank(&m.Text) {
			err = fmt.Errorf("text renders empty")
		}
	case send.Push:
		pick(&m.Title, a.title)
		pick(&m.Text, a.body)
		if len(a.data) > 0 {
			m.Data = map[string]string{}
			keys := make([]string, 0, len(a.data))
			for k := range a.data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				var v string
				pick(&v, a.data[k])
				m.Data[k] = v
			}
		}
		if err == nil && blank(&m.Title) && blank(&m.Text) {
			err = fmt.Errorf("title and body render empty")
		}
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}
