package interp

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// iexpr is a parsed intrinsic-function argument or call.
type iexpr interface {
	eval(ev *evalEnv, input any) (any, error)
}

type iLit struct{ v any }

// iStr is a string literal; holes are the byte offsets of unescaped "{}".
type iStr struct {
	s     string
	holes []int
}

type iPath struct{ p *path }

type iCall struct {
	name string
	fn   intrinsicFunc
	args []iexpr
}

func (x iLit) eval(*evalEnv, any) (any, error) { return x.v, nil }
func (x iStr) eval(*evalEnv, any) (any, error) { return x.s, nil }
func (x iPath) eval(ev *evalEnv, input any) (any, error) {
	return ev.resolve(x.p, input)
}
func (x *iCall) eval(ev *evalEnv, input any) (any, error) {
	args := make([]any, len(x.args))
	for i, a := range x.args {
		v, err := a.eval(ev, input)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := x.fn.call(ev, x, args)
	if err != nil {
		if _, ok := err.(*Failure); ok {
			return nil, err
		}
		return nil, &Failure{Name: ErrIntrinsicFailure, Cause: fmt.Sprintf("%s: %v", x.name, err)}
	}
	return v, nil
}

type intrinsicFunc struct {
	min, max int // argument counts; max < 0 means variadic
	call     func(ev *evalEnv, c *iCall, args []any) (any, error)
}

var intrinsics map[string]intrinsicFunc

func init() {
	intrinsics = map[string]intrinsicFunc{
		"States.Format":         {1, -1, fnFormat},
		"States.StringToJson":   {1, 1, fnStringToJSON},
		"States.JsonToString":   {1, 1, fnJSONToString},
		"States.Array":          {0, -1, fnArray},
		"States.ArrayPartition": {2, 2, fnArrayPartition},
		"States.ArrayContains":  {2, 2, fnArrayContains},
		"States.ArrayRange":     {3, 3, fnArrayRange},
		"States.ArrayGetItem":   {2, 2, fnArrayGetItem},
		"States.ArrayLength":    {1, 1, fnArrayLength},
		"States.ArrayUnique":    {1, 1, fnArrayUnique},
		"States.Base64Encode":   {1, 1, fnBase64Encode},
		"States.Base64Decode":   {1, 1, fnBase64Decode},
		"States.Hash":           {2, 2, fnHash},
		"States.JsonMerge":      {3, 3, fnJSONMerge},
		"States.MathRandom":     {2, 3, fnMathRandom},
		"States.MathAdd":        {2, 2, fnMathAdd},
		"States.StringSplit":    {2, 2, fnStringSplit},
		"States.UUID":           {0, 0, fnUUID},
	}
}

// ---- parser ----

func parseIntrinsic(src string) (*iCall, error) {
	p := &iparser{s: src}
	p.ws()
	e, err := p.call()
	if err != nil {
		return nil, fmt.Errorf("invalid intrinsic function %q: %v", src, err)
	}
	p.ws()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("invalid intrinsic function %q: unexpected %q", src, p.s[p.i:])
	}
	return e, nil
}

type iparser struct {
	s     string
	i     int
	depth int
}

func (p *iparser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *iparser) call() (*iCall, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != '(' {
		p.i++
	}
	name := strings.TrimSpace(p.s[start:p.i])
	fn, ok := intrinsics[name]
	if !ok {
		return nil, fmt.Errorf("unknown function %q", name)
	}
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing '('")
	}
	p.i++
	p.depth++
	if p.depth > 10 {
		return nil, fmt.Errorf("more than 10 nested functions")
	}
	c := &iCall{name: name, fn: fn}
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
	} else {
		for {
			p.ws()
			a, err := p.arg()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.ws()
			if p.i >= len(p.s) {
				return nil, fmt.Errorf("missing ')'")
			}
			if p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.s[p.i] == ')' {
				p.i++
				break
			}
			return nil, fmt.Errorf("unexpected %q", p.s[p.i])
		}
	}
	p.depth--
	if len(c.args) < fn.min || (fn.max >= 0 && len(c.args) > fn.max) {
		return nil, fmt.Errorf("%s takes %s, got %d", name, argCount(fn), len(c.args))
	}
	return c, nil
}

func argCount(fn intrinsicFunc) string {
	switch {
	case fn.max < 0:
		return fmt.Sprintf("at least %d arguments", fn.min)
	case fn.min == fn.max:
		return fmt.Sprintf("%d arguments", fn.min)
	}
	return fmt.Sprintf("%d to %d arguments", fn.min, fn.max)
}

func (p *iparser) arg() (iexpr, error) {
	if p.i >= len(p.s) {
		return nil, fmt.Errorf("missing argument")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		return p.str()
	case c == '$':
		start := p.i
		depth := 0
		var quote byte
		for ; p.i < len(p.s); p.i++ {
			ch := p.s[p.i]
			if quote != 0 {
				if ch == '\\' {
					p.i++
				} else if ch == quote {
					quote = 0
				}
				continue
			}
			if ch == '\'' || ch == '"' {
				quote = ch
			} else if ch == '[' || ch == '(' {
				depth++
			} else if ch == ']' || (ch == ')' && depth > 0) {
				depth--
			} else if depth == 0 && (ch == ',' || ch == ')') {
				break
			}
		}
		pp, err := parsePath(strings.TrimSpace(p.s[start:p.i]))
		if err != nil {
			return nil, err
		}
		return iPath{pp}, nil
	case strings.HasPrefix(p.s[p.i:], "States."):
		return p.call()
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ')' {
		p.i++
	}
	tok := strings.TrimSpace(p.s[start:p.i])
	v, err := decodeJSON([]byte(tok))
	if err != nil {
		return nil, fmt.Errorf("invalid argument %q", tok)
	}
	switch v.(type) {
	case []any, *object, string:
		return nil, fmt.Errorf("invalid argument %q", tok)
	}
	return iLit{v}, nil
}

// str parses a quoted literal; \' \{ \} \\ are escapes.
func (p *iparser) str() (iexpr, error) {
	p.i++
	var b strings.Builder
	var holes []int
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return nil, fmt.Errorf("dangling escape")
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
		case c == '\'':
			p.i++
			return iStr{s: b.String(), holes: holes}, nil
		case c == '{' && p.i+1 < len(p.s) && p.s[p.i+1] == '}':
			holes = append(holes, b.Len())
			b.WriteString("{}")
			p.i += 2
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, fmt.Errorf("unterminated string")
}

// ---- functions ----

func fnFormat(ev *evalEnv, c *iCall, args []any) (any, error) {
	tmpl, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("template must be a string, got %s", typeName(args[0]))
	}
	var holes []int
	if lit, ok := c.args[0].(iStr); ok {
		holes = lit.holes
	} else {
		for i := 0; i+1 < len(tmpl); i++ {
			if tmpl[i] == '{' && tmpl[i+1] == '}' {
				holes = append(holes, i)
				i++
			}
		}
	}
	if len(holes) != len(args)-1 {
		return nil, fmt.Errorf("the template has %d placeholders but %d values were given", len(holes), len(args)-1)
	}
	var b strings.Builder
	last := 0
	for i, h := range holes {
		b.WriteString(tmpl[last:h])
		switch v := args[i+1].(type) {
		case string:
			b.WriteString(v)
		case nil, bool, json.Number:
			b.Write(encodeJSON(v))
		default:
			return nil, fmt.Errorf("argument %d is a %s; only strings, numbers, booleans and null can be formatted", i+2, typeName(v))
		}
		last = h + 2
	}
	b.WriteString(tmpl[last:])
	return b.String(), nil
}

func fnStringToJSON(_ *evalEnv, _ *iCall, args []any) (any, error) {
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument must be a string, got %s", typeName(args[0]))
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, err
	}
	return v, nil
}

func fnJSONToString(_ *evalEnv, _ *iCall, args []any) (any, error) {
	return string(encodeJSON(args[0])), nil
}

func fnArray(_ *evalEnv, _ *iCall, args []any) (any, error) {
	return args, nil
}

func arrayArg(v any, n int) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("argument %d must be an array, got %s", n, typeName(v))
	}
	return a, nil
}

func intArg(v any, n int) (int64, error) {
	i, ok := toInt(v)
	if !ok {
		return 0, fmt.Errorf("argument %d must be an integer, got %s", n, string(encodeJSON(v)))
	}
	return i, nil
}

func fnArrayPartition(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, err := arrayArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	size, err := intArg(args[1], 2)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		return nil, fmt.Errorf("chunk size must be positive")
	}
	out := []any{}
	for i := 0; i < len(a); i += int(size) {
		out = append(out, a[i:min(i+int(size), len(a))])
	}
	return out, nil
}

func fnArrayContains(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, err := arrayArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	for _, e := range a {
		if equalJSON(e, args[1]) {
			return true, nil
		}
	}
	return false, nil
}

func fnArrayRange(_ *evalEnv, _ *iCall, args []any) (any, error) {
	var n [3]int64
	for i := range n {
		v, err := intArg(args[i], i+1)
		if err != nil {
			return nil, err
		}
		n[i] = v
	}
	start, end, step := n[0], n[1], n[2]
	if step == 0 {
		return nil, fmt.Errorf("step must not be 0")
	}
	out := []any{}
	for i := start; (step > 0 && i <= end) || (step < 0 && i >= end); i += step {
		if len(out) == 1000 {
			return nil, fmt.Errorf("the range has more than 1000 items")
		}
		out = append(out, intNumber(i))
	}
	return out, nil
}

func fnArrayGetItem(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, err := arrayArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	i, err := intArg(args[1], 2)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= int64(len(a)) {
		return nil, fmt.Errorf("index %d is out of bounds for an array of length %d", i, len(a))
	}
	return a[i], nil
}

func fnArrayLength(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, err := arrayArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	return intNumber(int64(len(a))), nil
}

func fnArrayUnique(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, err := arrayArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	out := []any{}
next:
	for _, e := range a {
		for _, u := range out {
			if equalJSON(e, u) {
				continue next
			}
		}
		out = append(out, e)
	}
	return out, nil
}

func stringArg(v any, n int) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("argument %d must be a string, got %s", n, typeName(v))
	}
	return s, nil
}

const maxIntrinsicString = 10000

func fnBase64Encode(_ *evalEnv, _ *iCall, args []any) (any, error) {
	s, err := stringArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	if utf8.RuneCountInString(s) > maxIntrinsicString {
		return nil, fmt.Errorf("input longer than %d characters", maxIntrinsicString)
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fnBase64Decode(_ *evalEnv, _ *iCall, args []any) (any, error) {
	s, err := stringArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	if len(s) > maxIntrinsicString {
		return nil, fmt.Errorf("input longer than %d characters", maxIntrinsicString)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("invalid base64: %v", err)
	}
	return string(b), nil
}

var hashes = map[string]func() hash.Hash{
	"MD5": md5.New, "SHA-1": sha1.New, "SHA-256": sha256.New, "SHA-384": sha512.New384, "SHA-512": sha512.New,
}

func fnHash(_ *evalEnv, _ *iCall, args []any) (any, error) {
	data, ok := args[0].(string)
	if !ok {
		data = string(encodeJSON(args[0]))
	}
	if utf8.RuneCountInString(data) > maxIntrinsicString {
		return nil, fmt.Errorf("input longer than %d characters", maxIntrinsicString)
	}
	alg, err := stringArg(args[1], 2)
	if err != nil {
		return nil, err
	}
	newHash, ok := hashes[alg]
	if !ok {
		return nil, fmt.Errorf("unsupported algorithm %q (use MD5, SHA-1, SHA-256, SHA-384 or SHA-512)", alg)
	}
	h := newHash()
	h.Write([]byte(data))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fnJSONMerge(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, ok1 := args[0].(*object)
	b, ok2 := args[1].(*object)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("the first two arguments must be objects")
	}
	if deep, ok := args[2].(bool); !ok || deep {
		return nil, fmt.Errorf("the third argument must be false (deep merge is not supported)")
	}
	out := newObject(a.len() + b.len())
	for i, k := range a.keys {
		out.put(k, a.vals[i])
	}
	for i, k := range b.keys {
		out.put(k, b.vals[i])
	}
	return out, nil
}

func fnMathRandom(ev *evalEnv, _ *iCall, args []any) (any, error) {
	lo, err := intArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	hi, err := intArg(args[1], 2)
	if err != nil {
		return nil, err
	}
	if hi <= lo {
		return nil, fmt.Errorf("end must be greater than start")
	}
	var n int64
	if len(args) == 3 {
		seed, err := intArg(args[2], 3)
		if err != nil {
			return nil, err
		}
		n = rand.New(rand.NewPCG(uint64(seed), 0x5eed)).Int64N(hi - lo)
	} else {
		n = ev.exec.randInt64N(hi - lo)
	}
	return intNumber(lo + n), nil
}

func fnMathAdd(_ *evalEnv, _ *iCall, args []any) (any, error) {
	a, ok1 := toInt(args[0])
	b, ok2 := toInt(args[1])
	if ok1 && ok2 {
		return intNumber(a + b), nil
	}
	fa, ok1 := toFloat(args[0])
	fb, ok2 := toFloat(args[1])
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("arguments must be numbers")
	}
	return floatNumber(fa + fb)
}

func fnStringSplit(_ *evalEnv, _ *iCall, args []any) (any, error) {
	s, err := stringArg(args[0], 1)
	if err != nil {
		return nil, err
	}
	seps, err := stringArg(args[1], 2)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
		out = append(out, f)
	}
	return out, nil
}

func fnUUID(ev *evalEnv, _ *iCall, _ []any) (any, error) {
	return ev.exec.uuid(), nil
}
