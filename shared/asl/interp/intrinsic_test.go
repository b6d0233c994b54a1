package interp

import (
	"regexp"
	"strings"
	"testing"
)

// evalIntrinsic evaluates one intrinsic against input.
func evalIntrinsic(t *testing.T, expr, input string, seed uint64) (string, error) {
	t.Helper()
	if _, err := parseIntrinsic(expr); err != nil {
		return "", err
	}
	out, err := Run(t.Context(), []byte(passMachine(`"Parameters":{"v.$":`+string(encodeJSON(expr))+`}`)), []byte(input), Options{Seed: seed, Clock: newFakeClock()})
	if err != nil {
		return "", err
	}
	v, _ := decodeJSON(out)
	r, _ := v.(*object).get("v")
	return string(encodeJSON(r)), nil
}

func TestIntrinsics(t *testing.T) {
	const in = `{"name":"Ada","n":3,"list":[1,2,3,4,5],"dups":[1,"1",1,{"k":1},{"k":1}],"a":{"x":1,"y":{"z":2}},"b":{"y":3},
	  "tmpl":"{} and {}","json":"{\"k\":[1,2]}","csv":"a,,b;c","obj":{"b":1,"a":[true,null]}}`
	tests := []struct {
		expr, want string
	}{
		{`States.Format('Hello, {}!', $.name)`, `"Hello, Ada!"`},
		{`States.Format('{}-{}-{}-{}', 1.5, true, null, 'x')`, `"1.5-true-null-x"`},
		{`States.Format($.tmpl, $.n, $.name)`, `"3 and Ada"`},
		{`States.Format('esc \{} \' \\ {}', $.n)`, `"esc {} ' \\ 3"`},
		{`States.Format('no holes')`, `"no holes"`},
		{`States.StringToJson($.json)`, `{"k":[1,2]}`},
		{`States.JsonToString($.obj)`, `"{\"b\":1,\"a\":[true,null]}"`},
		{`States.Array()`, `[]`},
		{`States.Array($.n, 'two', States.Array(1))`, `[3,"two",[1]]`},
		{`States.ArrayPartition($.list, 2)`, `[[1,2],[3,4],[5]]`},
		{`States.ArrayPartition($.list, 9)`, `[[1,2,3,4,5]]`},
		{`States.ArrayContains($.dups, $.a)`, `false`},
		{`States.ArrayContains($.dups, States.StringToJson('{"k":1}'))`, `true`},
		{`States.ArrayRange(1, 9, 2)`, `[1,3,5,7,9]`},
		{`States.ArrayRange(5, 1, -2)`, `[5,3,1]`},
		{`States.ArrayRange(1, 0, 1)`, `[]`},
		{`States.ArrayGetItem($.list, 4)`, `5`},
		{`States.ArrayLength($.list)`, `5`},
		{`States.ArrayUnique($.dups)`, `[1,"1",{"k":1}]`},
		{`States.Base64Encode('Data to encode')`, `"RGF0YSB0byBlbmNvZGU="`},
		{`States.Base64Decode('RGF0YSB0byBlbmNvZGU=')`, `"Data to encode"`},
		{`States.Hash('input data', 'MD5')`, `"812f45842bc6d66ee14572ce20db8e86"`},
		{`States.Hash('input data', 'SHA-1')`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{`States.JsonMerge($.a, $.b, false)`, `{"x":1,"y":3}`},
		{`States.MathAdd($.n, -4)`, `-1`},
		{`States.MathAdd(1.5, 2)`, `3.5`},
		{`States.StringSplit($.csv, ',;')`, `["a","b","c"]`},
		{`States.StringSplit('1,2,3,4,5', ',')`, `["1","2","3","4","5"]`},
		{`States.ArrayGetItem(States.StringSplit($.name, 'd'), 1)`, `"a"`},
		{`States.MathRandom(7, 8)`, `7`},
		{`States.Format('{}', $$.State.Name)`, `"P"`},
	}
	for _, tt := range tests {
		got, err := evalIntrinsic(t, tt.expr, in, 1)
		if err != nil {
			t.Errorf("%s: %v", tt.expr, err)
			continue
		}
		if !sameJSON(t, got, tt.want) {
			t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
		}
	}
}

func TestIntrinsicFailures(t *testing.T) {
	const in = `{"s":"x","list":[1],"o":{}}`
	for _, expr := range []string{
		`States.Format('{} {}', $.s)`,
		`States.Format('{}', $.o)`,
		`States.Format($.list)`,
		`States.StringToJson('{bad')`,
		`States.ArrayPartition($.list, 0)`,
		`States.ArrayPartition($.s, 1)`,
		`States.ArrayRange(1, 2, 0)`,
		`States.ArrayRange(0, 2000, 1)`,
		`States.ArrayGetItem($.list, 1)`,
		`States.ArrayLength($.o)`,
		`States.Base64Decode('%%%')`,
		`States.Hash($.s, 'SHA-3')`,
		`States.JsonMerge($.o, $.o, true)`,
		`States.JsonMerge($.o, $.list, false)`,
		`States.MathRandom(5, 5)`,
		`States.MathAdd($.s, 1)`,
		`States.StringSplit($.list, ',')`,
	} {
		_, err := evalIntrinsic(t, expr, in, 1)
		if failureName(err) != ErrIntrinsicFailure {
			t.Errorf("%s: err %v, want %s", expr, err, ErrIntrinsicFailure)
		}
	}
	// A missing path argument is a runtime error.
	if _, err := evalIntrinsic(t, `States.Array($.nope)`, in, 1); failureName(err) != ErrRuntime {
		t.Errorf("missing path: err %v, want %s", err, ErrRuntime)
	}
}

func TestIntrinsicParseErrors(t *testing.T) {
	for _, expr := range []string{
		`States.Nope(1)`, `States.Format(`, `States.Format('x'`, `States.Array(1,)`, `States.Format('unterminated)`,
		`States.ArrayLength()`, `States.UUID(1)`, `States.Array("double")`, `States.Array(1) extra`, `States.Array({})`,
	} {
		if _, err := parseIntrinsic(expr); err == nil {
			t.Errorf("parseIntrinsic(%q): want error", expr)
		}
	}
	deep := strings.Repeat("States.Array(", 11) + strings.Repeat(")", 11)
	if _, err := parseIntrinsic(deep); err == nil {
		t.Error("11 nested functions: want error")
	}
}

func TestRandomIntrinsicsAreSeeded(t *testing.T) {
	uuid := regexp.MustCompile(`^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$`)
	a, _ := evalIntrinsic(t, `States.UUID()`, `{}`, 42)
	b, _ := evalIntrinsic(t, `States.UUID()`, `{}`, 42)
	c, _ := evalIntrinsic(t, `States.UUID()`, `{}`, 43)
	if !uuid.MatchString(a) || a != b || a == c {
		t.Errorf("UUIDs %s %s %s: want v4, equal for equal seeds, different otherwise", a, b, c)
	}
	seen := map[string]bool{}
	for seed := uint64(1); seed <= 50; seed++ {
		v, err := evalIntrinsic(t, `States.MathRandom(10, 13)`, `{}`, seed)
		if err != nil {
			t.Fatal(err)
		}
		if v != "10" && v != "11" && v != "12" {
			t.Fatalf("MathRandom(10, 13) = %s, want 10..12", v)
		}
		seen[v] = true
	}
	if len(seen) != 3 {
		t.Errorf("MathRandom(10, 13) over 50 seeds gave %v, want all of 10..12", seen)
	}
	x, _ := evalIntrinsic(t, `States.MathRandom(1, 1000, 5)`, `{}`, 1)
	y, _ := evalIntrinsic(t, `States.MathRandom(1, 1000, 5)`, `{}`, 2)
	if x != y {
		t.Errorf("MathRandom with a seed argument: %s vs %s, want equal", x, y)
	}
}
