package interp

import (
	"encoding/json"
	"testing"
)

func TestDecodeEncodeRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":[true,false,null],"c":{"z":"x","y":-1.5e3}}`, `{"b":1,"a":[true,false,null],"c":{"z":"x","y":-1.5e3}}`},
		{` [ 1 , 2 ] `, `[1,2]`},
		{`"\u00e9\ud83d\ude00\n\t\"\\\/"`, `"é😀\n\t\"\\/"`},
		{`"<&>"`, `"<&>"`},
		{`12345678901234567890123`, `12345678901234567890123`},
		{`{"a":1,"a":2}`, `{"a":2}`},
		{`"\u0001"`, `"\u0001"`},
	}
	for _, tt := range tests {
		v, err := decodeJSON([]byte(tt.in))
		if err != nil {
			t.Errorf("decode %s: %v", tt.in, err)
			continue
		}
		if got := string(encodeJSON(v)); got != tt.want {
			t.Errorf("round trip %s = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestDecodeLargeObjectIndex(t *testing.T) {
	o := newObject(0)
	for i := 0; i < 40; i++ {
		o.put(string(rune('A'+i)), intNumber(int64(i)))
	}
	o.put("B", "replaced")
	if v, _ := o.get("B"); v != "replaced" || o.len() != 40 {
		t.Fatalf("get B = %v, len %d", v, o.len())
	}
	c := o.with("new", true)
	if _, ok := o.get("new"); ok {
		t.Fatal("with mutated the original")
	}
	if v, _ := c.get("new"); v != true || c.keys[40] != "new" {
		t.Fatalf("with: %v", c.keys)
	}
}

func TestDecodeRejectsInvalid(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a" 1}`, `[1,]`, `01`, `1.`, `-`, `"abc`, `tru`, `{"a":1}x`, "\"\x01\"", `"\x"`, `{1:2}`} {
		if _, err := decodeJSON([]byte(in)); err == nil {
			t.Errorf("decode %q: want error", in)
		}
	}
}

func TestEqualJSON(t *testing.T) {
	parse := func(s string) any {
		v, err := decodeJSON([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		a, b string
		eq   bool
	}{
		{`1`, `1.0`, true},
		{`{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{`{"a":1}`, `{"a":1,"b":2}`, false},
		{`[1,2]`, `[2,1]`, false},
		{`"1"`, `1`, false},
		{`null`, `false`, false},
	}
	for _, tt := range tests {
		if got := equalJSON(parse(tt.a), parse(tt.b)); got != tt.eq {
			t.Errorf("equalJSON(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
}

func TestFloatNumber(t *testing.T) {
	tests := []struct {
		f    float64
		want json.Number
	}{{5, "5"}, {0.5, "0.5"}, {-1.25, "-1.25"}, {1e21, "1e+21"}, {1e-7, "1e-7"}, {2.5e-8, "2.5e-8"}, {0.000001, "0.000001"}, {123456789, "123456789"}}
	for _, tt := range tests {
		if got, _ := floatNumber(tt.f); got != tt.want {
			t.Errorf("floatNumber(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}
