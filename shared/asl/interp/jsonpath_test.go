package interp

import "testing"

const pathDoc = `{
  "store": {
    "book": [
      {"title": "A", "price": 8, "tags": ["x"]},
      {"title": "B", "price": 12},
      {"title": "C", "price": 5, "isbn": "1"}
    ],
    "bike": {"color": "red", "price": 20}
  },
  "odd key": {"a.b": 1},
  "n": null
}`

func TestPathGet(t *testing.T) {
	doc, err := decodeJSON([]byte(pathDoc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path  string
		want  string // "" means no match
		found bool
	}{
		{"$", "", true},
		{"$.store.bike.color", `"red"`, true},
		{"$['store']['bike']['price']", `20`, true},
		{`$["odd key"]['a.b']`, `1`, true},
		{"$.store.book[0].title", `"A"`, true},
		{"$.store.book[-1].title", `"C"`, true},
		{"$.store.book[3]", ``, false},
		{"$.missing", ``, false},
		{"$.n", `null`, true},
		{"$.store.book[*].title", `["A","B","C"]`, true},
		{"$.store.book[0:2].price", `[8,12]`, true},
		{"$.store.book[::2].title", `["A","C"]`, true},
		{"$.store.book[0,2].title", `["A","C"]`, true},
		{"$.store.bike['color','price']", `["red",20]`, true},
		{"$..price", `[8,12,5,20]`, true},
		{"$.store.book[?(@.price < 10)].title", `["A","C"]`, true},
		{"$.store.book[?(@.isbn)].title", `["C"]`, true},
		{"$.store.book[?(@.title == 'B' || @.price >= 8 && @.price < 9)].title", `["A","B"]`, true},
		{"$.store.book[?(@.title != 'B')].price", `[8,5]`, true},
		{"$.store.book[?(@.price > 100)]", `[]`, true},
		{"$.store.book.length()", `3`, true},
		{"$.store.*.color", `["red"]`, true},
	}
	for _, tt := range tests {
		p, err := parsePath(tt.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", tt.path, err)
			continue
		}
		v, ok := p.get(doc)
		if ok != tt.found {
			t.Errorf("%s: found = %v, want %v", tt.path, ok, tt.found)
			continue
		}
		if !ok || tt.want == "" {
			continue
		}
		if got := string(encodeJSON(v)); !sameJSON(t, got, tt.want) {
			t.Errorf("%s = %s, want %s", tt.path, got, tt.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for _, p := range []string{"", "store", "$.", "$..", "$[", "$[abc]", "$['a'", "$[1:2:0]", "$.a[?(b)]", "$.length().x"} {
		if _, err := parsePath(p); err == nil {
			t.Errorf("parsePath(%q): want error", p)
		}
	}
}

func TestResultPathSet(t *testing.T) {
	tests := []struct {
		input, path, value, want string
		fail                     bool
	}{
		{`{"a":1}`, "$.b", `2`, `{"a":1,"b":2}`, false},
		{`{"a":1}`, "$.a", `{"x":1}`, `{"a":{"x":1}}`, false},
		{`{"a":{"keep":true}}`, "$.a.b.c", `3`, `{"a":{"keep":true,"b":{"c":3}}}`, false},
		{`{"list":[1,2]}`, "$.list[1]", `9`, `{"list":[1,9]}`, false},
		{`{"list":[1,2]}`, "$.list[5]", `9`, ``, true},
		{`{"a":"str"}`, "$.a.b", `1`, ``, true},
		{`[1,2]`, "$.a", `1`, ``, true},
	}
	for _, tt := range tests {
		in, _ := decodeJSON([]byte(tt.input))
		val, _ := decodeJSON([]byte(tt.value))
		rp, err := parseRefPath(tt.path)
		if err != nil {
			t.Fatalf("parseRefPath(%q): %v", tt.path, err)
		}
		got, err := rp.set(in, val)
		if tt.fail {
			if failureName(err) != ErrResultPathMatchFailure {
				t.Errorf("set %s on %s: err %v, want %s", tt.path, tt.input, err, ErrResultPathMatchFailure)
			}
			continue
		}
		if err != nil {
			t.Errorf("set %s on %s: %v", tt.path, tt.input, err)
			continue
		}
		if s := string(encodeJSON(got)); !sameJSON(t, s, tt.want) {
			t.Errorf("set %s on %s = %s, want %s", tt.path, tt.input, s, tt.want)
		}
		if s := string(encodeJSON(in)); !sameJSON(t, s, tt.input) {
			t.Errorf("set mutated its input: %s", s)
		}
	}
	for _, bad := range []string{"$$.x", "$.a[*]", "$..a", "x"} {
		if _, err := parseRefPath(bad); err == nil {
			t.Errorf("parseRefPath(%q): want error", bad)
		}
	}
}
