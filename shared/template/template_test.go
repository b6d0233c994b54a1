package template

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osteele/liquid"
)

func renderT(t *testing.T, src string, html bool, rec map[string]any) string {
	t.Helper()
	tp, err := Parse(src, Options{HTML: html, Name: "t"})
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	out, err := tp.Render(Bindings{Recipient: rec})
	if err != nil {
		t.Fatalf("Render(%q): %v", src, err)
	}
	sameAsLibrary(t, tp, Bindings{Recipient: rec}, out, err)
	return out
}

// sameAsLibrary checks that the flat program of a template without tags
// renders what the library's render tree renders, and that Blank agrees
// with Render.
func sameAsLibrary(t testing.TB, tp *Template, b Bindings, out string, err error) {
	t.Helper()
	blank, berr := tp.Blank(b)
	if (err == nil) != (berr == nil) || (err != nil && err.Error() != berr.Error()) || (err == nil && blank != (strings.TrimSpace(out) == "")) {
		t.Errorf("Blank says %v, %v; Render %q, %v", blank, berr, out, err)
	}
	if tp.prog == nil {
		return
	}
	var lib string
	lerr := tp.render(b, false, func(p []byte) { lib = string(p) })
	if lib != out || (err == nil) != (lerr == nil) || (err != nil && err.Error() != lerr.Error()) {
		t.Errorf("flat program and library differ:\n flat %q, %v\n lib  %q, %v", out, err, lib, lerr)
	}
}

func TestEscaping(t *testing.T) {
	rec := map[string]any{
		"name":    `<script>alert("x")</script>`,
		"amp":     "Fish & Chips",
		"quote":   `O'Brien "Bob"`,
		"escaped": "a &amp; b &lt;",
		"html":    "<b>bold</b>",
		"n":       int64(5),
	}
	cases := []struct {
		src       string
		html, txt string // expected output of the HTML and the text template
	}{
		{"{{ recipient.name }}", "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", `<script>alert("x")</script>`},
		{"{{ recipient.amp }}", "Fish &amp; Chips", "Fish & Chips"},
		{"{{ recipient.quote }}", "O&#39;Brien &#34;Bob&#34;", `O'Brien "Bob"`},
		// filters see raw values, the result is escaped
		{"{{ recipient.amp | size }}", "12", "12"},
		{"{{ recipient.amp | upcase }}", "FISH &amp; CHIPS", "FISH & CHIPS"},
		{"{{ recipient.html | replace: 'bold', '&' }}", "&lt;b&gt;&amp;&lt;/b&gt;", "<b>&</b>"},
		// an explicit escape is not escaped twice
		{"{{ recipient.amp | escape }}", "Fish &amp; Chips", "Fish &amp; Chips"},
		{"{{ recipient.escaped | escape_once }}", "a &amp; b &lt;", "a &amp; b &lt;"},
		// escape followed by another filter: escaped again (safe side)
		{"{{ recipient.amp | escape | append: '!' }}", "Fish &amp;amp; Chips!", "Fish &amp; Chips!"},
		// raw opts out
		{"{{ recipient.html | raw }}", "<b>bold</b>", "<b>bold</b>"},
		{"{{ recipient.missing | default: '<i>x</i>' | raw }}", "<i>x</i>", "<i>x</i>"},
		// raw that is not last does not opt out
		{"{{ recipient.html | raw | upcase }}", "&lt;B&gt;BOLD&lt;/B&gt;", "<B>BOLD</B>"},
		// literals in the template are escaped too (use raw for markup)
		{"{{ '<br>' }}", "&lt;br&gt;", "<br>"},
		{"{{ recipient.missing | default: 'A & B' }}", "A &amp; B", "A & B"},
		// {% raw %} is verbatim
		{"{% raw %}{{ recipient.name }} <{% endraw %}", "{{ recipient.name }} <", "{{ recipient.name }} <"},
		// template text is never escaped
		{"<p class=\"x\">{{ recipient.n }} & co</p>", "<p class=\"x\">5 & co</p>", "<p class=\"x\">5 & co</p>"},
		// comparisons and parentheses
		{"{{ recipient.n > 3 }}", "true", "true"},
		// captured output was escaped when captured
		{"{% capture c %}<b>{{ recipient.amp }}</b>{% endcapture %}{{ c }}", "<b>Fish &amp; Chips</b>", "<b>Fish & Chips</b>"},
		// a name that is also assigned is escaped even after a capture
		{"{% for i in (1..2) %}{% if i == 1 %}{% capture c %}x{% endcapture %}{% endif %}{{ c }}{% assign c = recipient.html %}{% endfor %}",
			"x&lt;b&gt;bold&lt;/b&gt;", "x<b>bold</b>"},
		// assigned values are escaped on output
		{"{% assign a = recipient.html %}{{ a }}", "&lt;b&gt;bold&lt;/b&gt;", "<b>bold</b>"},
		// loop items
		{"{% for x in recipient.list %}{{ x }}{% endfor %}", "&lt;&amp;", "<&"},
		// string literals containing a pipe and raw are not filters
		{"{{ 'a | raw' }}", "a | raw", "a | raw"},
		{"{{ '<' | append: ' | raw' }}", "&lt; | raw", "< | raw"},
	}
	rec["list"] = []any{"<", "&"}
	for _, c := range cases {
		if got := renderT(t, c.src, true, rec); got != c.html {
			t.Errorf("html %q:\n got %q\nwant %q", c.src, got, c.html)
		}
		if got := renderT(t, c.src, false, rec); got != c.txt {
			t.Errorf("text %q:\n got %q\nwant %q", c.src, got, c.txt)
		}
	}
}

// The rewrite of {{ }} into output tags must not change what the library
// renders for plain values, whitespace control included.
func TestRewriteMatchesLibrary(t *testing.T) {
	eng := liquid.NewEngine()
	vars := map[string]any{"recipient": map[string]any{"a": "x", "b": "y", "list": []any{"1", "2"}}}
	for _, src := range []string{
		"a {{ recipient.a }} b",
		"a  {{- recipient.a }}  b",
		"a  {{ recipient.a -}}  b",
		"a \n {{- recipient.a -}} \n b",
		"{{recipient.a}}{{recipient.b}}",
		"{{\n  recipient.a\n}}|",
		"{%- for i in recipient.list -%}\n {{- i -}} \n{%- endfor -%}",
		"{% if recipient.a == 'x' %} {{ recipient.b -}} {% endif %}",
		"{{ recipient.a | append: '-' }}-{{ recipient.b | prepend: 'z'-}}",
		"{{ recipient.a == 'x' and recipient.b == 'y' }}",
		"{{ recipient.missing }}|{{ nil }}|{{ true }}|{{ 3 }}",
		"{% comment %}{{ x }}{% endcomment %}ok",
		"{% raw %} {{- a -}} {% endraw %}",
	} {
		want, lerr := eng.ParseAndRenderString(src, vars)
		if lerr != nil {
			t.Fatalf("library %q: %v", src, lerr)
		}
		tp, err := Parse(src, Options{})
		if err != nil {
			t.Fatalf("Parse(%q): %v", src, err)
		}
		got, err := tp.Render(Bindings{Recipient: vars["recipient"].(map[string]any)})
		if err != nil || got != want {
			t.Errorf("%q: got %q, %v; library %q", src, got, err, want)
		}
	}
}

func paths(refs []Ref) []string {
	var out []string
	for _, r := range refs {
		s := r.String()
		if r.Dynamic {
			s += "[]"
		}
		out = append(out, fmt.Sprintf("%d:%s", r.Line, s))
	}
	return out
}

func TestNames(t *testing.T) {
	cases := []struct {
		src  string
		want []string
	}{
		{"Hi {{ recipient.firstName }}", []string{"1:recipient.firstName"}},
		{"{{ recipient.firstName | default: params.fallback | append: 'x' }}", []string{"1:recipient.firstName", "1:params.fallback"}},
		// string literals with braces, dots and pipes do not count
		{`{{ "{ recipient.x }" | append: 'a.b | c' }}{{ 'params.p' }}{% if recipient.a == "{{ recipient.b }}" %}{% endif %}`, []string{"1:recipient.a"}},
		{"{{ 3.5 | plus: 2 }}{{ true }}{{ nil }}{{ false }}", nil},
		// filter names are not names; filter arguments are
		{"{{ recipient.n | times: variables.rate | round: 2 }}", []string{"1:recipient.n", "1:variables.rate"}},
		// assign/capture locals, in document order
		{"{{ greeting }}{% assign greeting = recipient.firstName | upcase %}{{ greeting }}{{ greeting.size }}", []string{"1:greeting", "1:recipient.firstName"}},
		{"{% capture c %}{{ campaign.name }}{% endcapture %}{{ c }}", []string{"1:campaign.name"}},
		// for loops: loop variable and forloop are local to the body
		{"{% for item in recipient.items limit: params.n offset: 1 reversed %}{{ item.sku }}{{ forloop.index }}{% endfor %}{{ item }}",
			[]string{"1:recipient.items", "1:params.n", "1:item"}},
		{"{% for i in (1..params.max) %}{{ i }}{% else %}none{% endfor %}", []string{"1:params.max"}},
		{"{% tablerow p in recipient.products cols: 2 %}{{ p }}{% endtablerow %}", []string{"1:recipient.products"}},
		// nested if / unless / elsif / case / when with operators
		{"{% if recipient.a and recipient.b or recipient.c contains 'x' %}\n{% unless recipient.d != empty %}{% endunless %}\n{% elsif params.e >= 3 %}{% endif %}",
			[]string{"1:recipient.a", "1:recipient.b", "1:recipient.c", "2:recipient.d", "3:params.e"}},
		{"{% if a %}{% elsif params.e >= 3 %}{% endif %}", []string{"1:a", "1:params.e"}},
		{"{% case recipient.tier %}{% when 'gold', variables.top %}G{% else %}O{% endcase %}", []string{"1:recipient.tier", "1:variables.top"}},
		// brackets: string index is a component, anything else is dynamic
		{`{{ recipient["first name"] }}{{ recipient.items[0].sku }}{{ recipient[params.col] }}`,
			[]string{"1:recipient.first name", "1:recipient.items[]", "1:recipient[]", "1:params.col"}},
		// lines within multi-line tags and across the template
		{"a\nb {{ run.id }}\n{% if\n  message.unsubscribeUrl %}{% endif %}", []string{"2:run.id", "4:message.unsubscribeUrl"}},
		// comments and raw blocks are not read
		{"{% comment %}{{ recipient.x }}{% endcomment %}{% raw %}{{ recipient.y }}{% endraw %}", nil},
		// duplicates on one line are listed once
		{"{{ recipient.a }}{{ recipient.a }}\n{{ recipient.a }}", []string{"1:recipient.a", "2:recipient.a"}},
		// identifiers with dashes and question marks
		{"{{ recipient.first-name }}{{ recipient.ok? }}", []string{"1:recipient.first-name", "1:recipient.ok?"}},
	}
	for _, c := range cases {
		tp, err := Parse(c.src, Options{})
		if err != nil {
			t.Errorf("Parse(%q): %v", c.src, err)
			continue
		}
		if got := paths(tp.Names()); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Names(%q)\n got %q\nwant %q", c.src, got, c.want)
		}
	}
}

func testScope() Scope {
	return Scope{
		Recipient: []Field{{"firstName", "string"}, {"email", "string"}, {"address", "json"}, {"birthDate", "date"}, {"spend90d", "number"}},
		Params:    []Field{{"discount", "integer"}},
		Variables: []Field{{"season", "string"}},
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		src  string
		want []string
	}{
		{"{{ recipient.firstName }} {{ params.discount }}% {{ variables.season }} {{ campaign.id }} {{ campaign.name }} {{ run.id }} {{ message.unsubscribeUrl }}", nil},
		{"{{ recipient.address.city }} {{ recipient.address.lines[0] }} {{ recipient.firstName.size }}", nil},
		{"{{ recipient.fristName }}", []string{`t: line 1: unknown name "recipient.fristName" (did you mean "recipient.firstName"?)`}},
		{"\n{{ firstName }}", []string{`t: line 2: unknown name "firstName" (did you mean "recipient.firstName"?)`}},
		{"{{ recipeint.email }}", []string{`t: line 1: unknown name "recipeint.email" (did you mean "recipient"?)`}},
		{"{{ params.discont }}", []string{`t: line 1: unknown name "params.discont" (did you mean "params.discount"?)`}},
		{"{{ campaign.title }}", []string{`t: line 1: unknown name "campaign.title"`}},
		{"{{ message.unsubscribeURL }}", []string{`t: line 1: unknown name "message.unsubscribeURL" (did you mean "message.unsubscribeUrl"?)`}},
		{"{{ zzz }}", []string{`t: line 1: unknown name "zzz"`}},
		{"{{ recipient.firstName.x }}", []string{`t: line 1: unknown name "recipient.firstName.x": "recipient.firstName" is a string, not json, and has no field "x"`}},
		{"{{ recipient }}", []string{`t: line 1: "recipient" is a namespace, not a value: use recipient.<name>`}},
		{"{{ recipient[params.discount] }}", nil},
		{"{% for x in recipient.address.items %}{{ x.name }}{% endfor %}{% assign y = 1 %}{{ y }}", nil},
		{"{% if recipient.emial %}\n{{ recipient.emial }}{% endif %}{{ recipient.emial }}", []string{
			`t: line 1: unknown name "recipient.emial" (did you mean "recipient.email"?)`,
			`t: line 2: unknown name "recipient.emial" (did you mean "recipient.email"?)`,
		}},
	}
	for _, c := range cases {
		tp, err := Parse(c.src, Options{Name: "t"})
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.src, err)
		}
		var got []string
		for _, e := range Check(tp, testScope()) {
			got = append(got, e.Error())
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Check(%q)\n got %q\nwant %q", c.src, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		src  string
		line int
		msg  string // substring
	}{
		{"a\nb\n{{ recipient.x | }}", 3, "syntax error"},
		{"a\n\n\n{% if recipient.x %}\nno end", 4, `unterminated "if" block`},
		{"{% if a %}\n{% endfor %}", 2, "endfor not inside"},
		{"a\n{% frobnicate %}", 2, `undefined tag "frobnicate"`},
		{"a\nb\n{{ recipient.x | upcaes }}", 3, `undefined filter "upcaes" (did you mean "upcase"?)`},
		{"a\n{% if x %}\n{{ x\n| upcase }}{% endif %}", 3, `"{{" is not closed`},
		{"a\nHello {{ recipient.firstName", 2, `"{{" is not closed`},
		{"ok\n{% raw %}", 2, `unterminated "raw" block`},
		{"{% include 'file.liquid' %}", 1, `"include" is not supported`},
		{"\n{% assign params = 1 %}", 2, `reserved name`},
		{"\n\n{% for i in (1..1000000) %}{% endfor %}", 3, "too large"},
		{"{{ '%}' }}", 1, `"%}" is not allowed`},
		{"{% _stepwise_html x %}", 1, "undefined tag"},
	}
	for _, c := range cases {
		_, err := Parse(c.src, Options{Name: "html"})
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Parse(%q) = %v, want *Error", c.src, err)
			continue
		}
		if e.Line != c.line || !strings.Contains(e.Msg, c.msg) || e.Template != "html" {
			t.Errorf("Parse(%q) = %+v, want line %d and %q", c.src, e, c.line, c.msg)
		}
	}
}

func TestRenderBindings(t *testing.T) {
	scope := Scope{
		Recipient: []Field{{"s", "string"}, {"i", "integer"}, {"f", "number"}, {"big", "number"}, {"b", "boolean"},
			{"d", "date"}, {"ts", "timestamp"}, {"nul", "string"}, {"missing", "string"}, {"j", "json"}, {"jt", "json"}},
		Params:    []Field{{"discount", "integer"}, {"start", "date"}},
		Variables: []Field{{"season", "string"}},
	}
	bld := NewBuilder(scope, Shared{
		Params:    map[string]any{"discount": int64(20), "start": time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		Variables: map[string]any{"season": "winter"},
		Campaign:  Campaign{ID: "winback-q4", Name: "Win back"},
		Run:       Run{ID: "run-1"},
	})
	row := map[string]any{
		"s": "Ann", "i": int64(42), "f": 12.5, "big": 1500000.0, "b": true,
		"d":   time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC),
		"ts":  time.Date(2026, 1, 31, 9, 0, 0, 0, time.UTC),
		"nul": nil, "j": map[string]any{"city": "Paris"}, "jt": `{"tags":["a","b"],"n":2}`,
	}
	src := "{{ recipient.s }}|{{ recipient.i }}|{{ recipient.f }}|{{ recipient.big }}|{{ recipient.b }}|" +
		"{{ recipient.d }}|{{ recipient.ts }}|{{ recipient.nul }}|{{ recipient.missing }}|{{ recipient.j.city }}|" +
		"{{ recipient.jt.tags | join: ',' }}|{{ recipient.jt.n | plus: 1 }}|{{ recipient.j }}|" +
		"{{ params.discount }}|{{ params.start }}|{{ variables.season }}|{{ campaign.id }}|{{ campaign.name }}|{{ run.id }}|{{ message.unsubscribeUrl }}|" +
		"{{ recipient.d | date: '%d/%m/%Y' }}|{{ recipient.ts | date: '%H:%M' }}|{{ recipient.i | plus: 1 }}|{{ recipient.f | times: 2 }}"
	tp, err := Parse(src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if errs := Check(tp, scope); len(errs) > 0 {
		t.Fatal(errs)
	}
	got, err := tp.Render(bld.Bindings(row, Message{UnsubscribeURL: "https://u.example/x"}))
	if err != nil {
		t.Fatal(err)
	}
	want := "Ann|42|12.5|1500000|true|1990-05-17|2026-01-31T09:00:00Z|||Paris|a,b|3|{\"city\":\"Paris\"}|" +
		"20|2026-12-01|winter|winback-q4|Win back|run-1|https://u.example/x|17/05/1990|09:00|43|25"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if _, ok := row["d"].(time.Time); !ok {
		t.Error("Builder modified the row")
	}
	// Bindings without a Builder: times render as RFC 3339.
	got, err = MustParse("{{ recipient.d }} {{ campaign.name }} {{ run.id }}", Options{}).Render(Bindings{
		Recipient: map[string]any{"d": time.Date(1990, 5, 17, 0, 0, 0, 0, time.UTC)}, Campaign: Campaign{Name: "C"}, Run: Run{ID: "r"}})
	if want := "1990-05-17T00:00:00Z C r"; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

func TestFilters(t *testing.T) {
	rec := map[string]any{"empty": "", "nil": nil, "false": false, "zero": int64(0), "name": "élodie dUPONT", "long": "Hello wonderful world", "list": []any{}}
	cases := []struct{ src, want string }{
		// default as in Shopify: nil, false, "" and empty arrays fall back; 0 does not
		{"{{ recipient.empty | default: 'x' }}", "x"},
		{"{{ recipient.nil | default: 'x' }}", "x"},
		{"{{ recipient.missing | default: 'x' }}", "x"},
		{"{{ recipient.false | default: 'x' }}", "x"},
		{"{{ recipient.list | default: 'x' }}", "x"},
		{"{{ recipient.zero | default: 'x' }}", "0"},
		{"{{ recipient.name | default: 'x' }}", "élodie dUPONT"},
		{"{{ recipient.name | capitalize }}", "Élodie dupont"},
		{"{{ recipient.name | upcase }}", "ÉLODIE DUPONT"},
		{"{{ recipient.long | truncate: 8 }}", "Hello..."},
		{"{{ recipient.long | truncate: 2 }}", "..."},
		{"{{ recipient.long | truncate: 30 }}", "Hello wonderful world"},
		{"{{ recipient.long | truncatewords: 2 }}", "Hello wonderful..."},
		{"{{ 5 | at_least: 10 }}{{ 5 | at_most: 3 }}", "103"},
		{"{{ 'a b' | url_encode }}", "a+b"},
		{"{{ 'hi' | base64_encode | base64_decode }}", "hi"},
		{"{{ '<p>Hi <b>x</b></p><script>evil()</script>' | strip_html }}", "Hi x"},
		{"{{ recipient.nil | date: '%Y' }}|{{ recipient.empty | date: '%Y' }}", "|"},
		{"{{ '2026-03-04' | date: '%b %-d' }}", "Mar 4"},
		{"{{ 10 | divided_by: 4 }} {{ 10.0 | divided_by: 4 }} {{ 10 | divided_by: 4.0 }} {{ -7 | divided_by: 2 }} {{ 3.14159 | round: 2 }}", "2 2.5 2.5 -4 3.14"},
		{"{{ 'a,b,c' | split: ',' | size }} {{ 'a,b,c' | split: ',' | first }}", "3 a"},
	}
	for _, c := range cases {
		if got := renderT(t, c.src, false, rec); got != c.want {
			t.Errorf("%s = %q, want %q", c.src, got, c.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	cases := []struct {
		src  string
		line int
		msg  string
	}{
		{"a\n{{ recipient.s | date: '%Y' }}", 2, "error applying filter \"date\""},
		{"a\n{% if true %}\n\n{{ 1 | divided_by: 0 }}{% endif %}", 4, "division by zero"},
		{"a\n\n{{ recipient.s | slice: 50 }}", 3, "slice bounds out of range"},
		{"a\n{% if true %}\n{{ recipient.s | slice: 50 }}{% endif %}", 3, "slice bounds out of range"},
		{"{% cycle 'a', 'b' %}", 1, "cycle must be within a forloop"},
	}
	for _, c := range cases {
		tp, err := Parse(c.src, Options{Name: "n"})
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.src, err)
		}
		b := Bindings{Recipient: map[string]any{"s": "not a date"}}
		out, err := tp.Render(b)
		sameAsLibrary(t, tp, b, out, err)
		var e *Error
		if !errors.As(err, &e) || e.Line != c.line || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("Render(%q) = %#v, want line %d %q", c.src, err, c.line, c.msg)
		}
	}
	// output bound
	tp := MustParse("{% for i in (1..1000) %}0123456789{% endfor %}", Options{MaxOutput: 5000})
	if _, err := tp.Render(Bindings{}); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("want output too large, got %v", err)
	}
	if out, err := tp.Render(Bindings{}); err == nil || out != "" {
		t.Errorf("second render: %q %v", out, err)
	}
	if out, err := MustParse("{{ 'ok' }}", Options{}).Render(Bindings{}); err != nil || out != "ok" {
		t.Errorf("after errors: %q %v", out, err)
	}
}

func TestConcurrentRender(t *testing.T) {
	tp := MustParse("{% assign n = recipient.name | upcase %}{% for i in (1..3) %}{% cycle 'a','b' %}{{ n }}{% endfor %}<{{ recipient.name }}>", Options{HTML: true})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				name := fmt.Sprintf("u&%d-%d", g, i)
				out, err := tp.Render(Bindings{Recipient: map[string]any{"name": name}, Message: Message{UnsubscribeURL: name}})
				up := strings.ReplaceAll(strings.ToUpper(name), "&", "&amp;")
				want := "a" + up + "b" + up + "a" + up + "<" + strings.ReplaceAll(name, "&", "&amp;") + ">"
				if err != nil || out != want {
					errs <- fmt.Sprintf("got %q %v want %q", out, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Hi {{ recipient.firstName | default: 'there' }}",
		"{% for i in recipient.items %}{{ i.sku }}{% else %}-{% endfor %}",
		"{% if a == 1 and b %}x{% elsif c %}y{% else %}z{% endif %}",
		"{% raw %}{{ x }}{% endraw %}{% comment %}{% endcomment %}",
		"{% capture c %}{{ x | escape }}{% endcapture %}{{ c | raw }}",
		"{{- x -}} {%- assign y = x | split: ',' -%}",
		"{{ (1..5) | join: ',' }}{{ x[0] }}{{ x['a b'] }}",
		"{% case x %}{% when 1, 2 %}a{% endcase %}{% cycle 'a', 'b' %}",
		"{{ 'a' | truncate: -5 }}{{ x | date: '%Y' }}",
	} {
		f.Add(s)
	}
	rec := map[string]any{"firstName": "<A&B>", "items": []any{map[string]any{"sku": "x"}}, "n": int64(3)}
	f.Fuzz(func(t *testing.T, src string) {
		for _, html := range []bool{false, true} {
			tp, err := Parse(src, Options{HTML: html, MaxOutput: 1 << 16})
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T is not *Error", err)
				}
				continue
			}
			_ = Check(tp, testScope())
			_ = tp.Names()
			b := Bindings{Recipient: rec, Variables: map[string]any{"x": "1,2"}}
			out, err := tp.Render(b)
			sameAsLibrary(t, tp, b, out, err)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("render error %T is not *Error", err)
				}
			}
		}
	})
}

// typicalHTML is a ~2 KB marketing email with 6 variables and a default filter.
func typicalHTML() string {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html><html><head><meta charset="utf-8"><title>{{ campaign.name }}</title></head><body>`)
	b.WriteString(`<table width="100%" cellpadding="0" cellspacing="0"><tr><td style="font-family:Arial,sans-serif;font-size:16px;color:#333">`)
	b.WriteString(`<p>Hello {{ recipient.firstName | default: "there" }},</p>`)
	for i := 0; i < 8; i++ {
		b.WriteString(`<p style="margin:0 0 12px 0">We have missed you at the shop. This winter, enjoy exclusive offers on the items you love, with free delivery on every order above the usual threshold.</p>`)
	}
	b.WriteString(`<p>Use your code <strong>{{ params.code }}</strong> to get {{ params.discount }}% off before {{ variables.until }}.</p>`)
	b.WriteString(`<p>Your nearest store: {{ recipient.city }}.</p>`)
	b.WriteString(`<p style="font-size:11px"><a href="{{ message.unsubscribeUrl }}">Unsubscribe</a></p></td></tr></table></body></html>`)
	return b.String()
}

func BenchmarkRenderTypical(b *testing.B) {
	subject := MustParse("{{ recipient.firstName | default: 'Hello' }}, {{ params.discount }}% off", Options{Name: "subject"})
	html := MustParse(typicalHTML(), Options{HTML: true, Name: "html"})
	scope := Scope{
		Recipient: []Field{{"firstName", "string"}, {"city", "string"}, {"birthDate", "date"}},
		Params:    []Field{{"discount", "integer"}, {"code", "string"}},
		Variables: []Field{{"until", "string"}},
	}
	if errs := append(Check(subject, scope), Check(html, scope)...); len(errs) > 0 {
		b.Fatal(errs)
	}
	bld := NewBuilder(scope, Shared{
		Params:    map[string]any{"discount": int64(20), "code": "WINTER20"},
		Variables: map[string]any{"until": "December 31"},
		Campaign:  Campaign{ID: "winback", Name: "Win back"},
		Run:       Run{ID: "r1"},
	})
	row := map[string]any{"firstName": "Ann & Bob", "city": "Paris", "customerId": "c1", "email": "ann@example.com", "spend90d": 120.5}
	b.SetBytes(int64(len(typicalHTML())))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bn := bld.Bindings(row, Message{UnsubscribeURL: "https://x.example/u/abc"})
		if _, err := subject.Render(bn); err != nil {
			b.Fatal(err)
		}
		if _, err := html.Render(bn); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFlatProgram(t *testing.T) {
	for src, flat := range map[string]bool{
		"Hi {{ recipient.a | default: 'x' }}":        true,
		"{{- recipient.a -}} {{ recipient.b.c }}":    true,
		"{{ recipient.a | upcase }}":                 true, // evaluated by the library's evaluator
		"{% if recipient.a %}x{% endif %}":           false,
		"{% raw %}{{ a }}{% endraw %}":               false,
		"{% comment %}x{% endcomment %}{{ run.id }}": false,
	} {
		if got := MustParse(src, Options{}).prog != nil; got != flat {
			t.Errorf("%q: flat program %v, want %v", src, got, flat)
		}
	}
	// Simple outputs and trimming agree with the library on tricky values.
	rec := map[string]any{
		"s": "  x  ", "e": "", "f": false, "z": int64(0), "nil": nil, "l": []any{}, "m": map[string]any{},
		"nested": map[string]any{"k": "v", "size": "own"}, "arr": []any{"a", "b"}, "str": "abc",
	}
	for _, src := range []string{
		"a {{- recipient.s -}} b", "{{ recipient.s -}}{{- recipient.s }}", "{{ recipient.nil -}}  x",
		"  {{- recipient.nil }}x", "{{ recipient.e -}} \n y", "x\n{{- recipient.e | default: '  ' -}}\ny",
		"{{ recipient.e | default: 1 }}{{ recipient.f | default: 2.5 }}{{ recipient.z | default: 3 }}{{ recipient.nil | default: nil }}",
		"{{ recipient.l | default: 'L' }}{{ recipient.m | default: 'M' }}{{ recipient.missing | default: false | default: 'F' }}",
		"{{ recipient.nested.k }}{{ recipient.nested.size }}{{ recipient.m.size }}{{ recipient.arr.size }}{{ recipient.arr.first }}",
		"{{ recipient.str.size }}{{ recipient.nil.x.y }}{{ recipient.s.x }}{{ recipient.nested }}",
		"{{ recipient.arr }}{{ recipient.s | raw }}{{ nope }}",
	} {
		for _, html := range []bool{false, true} {
			_ = renderT(t, src, html, rec)
		}
	}
}

// BenchmarkRenderTags is the typical email with an {% if %} block, which
// renders through the library's render tree.
func BenchmarkRenderTags(b *testing.B) {
	html := MustParse(strings.Replace(typicalHTML(), "<p>Your nearest store: {{ recipient.city }}.</p>",
		"{% if recipient.city %}<p>Your nearest store: {{ recipient.city }}.</p>{% endif %}", 1), Options{HTML: true})
	if html.prog != nil {
		b.Fatal("expected the library path")
	}
	bn := Bindings{
		Recipient: map[string]any{"firstName": "Ann & Bob", "city": "Paris"},
		Params:    map[string]any{"discount": int64(20), "code": "WINTER20"},
		Variables: map[string]any{"until": "December 31"},
		Message:   Message{UnsubscribeURL: "https://x.example/u/abc"},
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := html.Render(bn); err != nil {
			b.Fatal(err)
		}
	}
}
