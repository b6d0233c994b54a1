package unsubscribe

import (
	"bytes"
	"encoding/json"
	"testing"
)

// appendClaims must write exactly what encoding/json writes: tokens issued before it
// and tokens verified by json.Unmarshal depend on the same payload bytes.
func TestAppendClaimsIsJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "ané@example.com", `quo"te`, `back\slash`, "<b>&amp;</b>",
		"tab\there", "nl\n", "\x00\x1f\x7f", "\u2028\u2029", "bad \xff utf8", "emoji 😀", "c000123"} {
		c := Claims{Campaign: s, Run: "run-" + s, Activity: s, Recipient: s, Channel: "email", Address: s,
			IssuedAt: -1 << 40, V: Version}
		want, _ := json.Marshal(c)
		if got := appendClaims(nil, c); !bytes.Equal(got, want) {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func FuzzAppendClaims(f *testing.F) {
	f.Add("c", "k", "a@b.example", int64(1))
	f.Fuzz(func(t *testing.T, campaign, key, addr string, iat int64) {
		c := Claims{Campaign: campaign, Recipient: key, Address: addr, Channel: "sms", IssuedAt: iat, V: Version}
		want, _ := json.Marshal(c)
		if got := appendClaims(nil, c); !bytes.Equal(got, want) {
			t.Fatalf("got %s\nwant %s", got, want)
		}
	})
}

// go test ./shared/unsubscribe -run '^$' -bench Sign -benchmem
func BenchmarkSign(b *testing.B) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	c := Claims{Campaign: "reference", Run: "01a2270d-6efd-74e3-b715-d4c55543c030", Activity: "mailActive",
		Recipient: "c0001234", Channel: "email", Address: "jane.doe@example.com", IssuedAt: 1795000000}
	b.ReportAllocs()
	for b.Loop() {
		Sign(secret, c)
	}
}

// A Signer's tokens are Sign's, byte for byte (Verify's tests cover those).
func FuzzSigner(f *testing.F) {
	f.Add("reference", "01a2270d-6efd-74e3-b715-d4c55543c030", "mailActive", "email", "c0001234", "jane.doe@example.com", int64(1795000000))
	f.Add("c", "r", "a", "sms", "", "", int64(1))
	f.Add("\x00k", "r", "\x00a", "push", "\x00k", "é", int64(-5))
	f.Add("ab", "r", "a", "email", `q"k`, "<a>", int64(7))
	secret := []byte("0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, campaign, run, act, channel, key, addr string, iat int64) {
		if iat == 0 {
			iat = 1
		}
		c := Claims{Campaign: campaign, Run: run, Activity: act, Channel: channel, IssuedAt: iat}
		s := NewSigner(secret, c)
		c.Recipient, c.Address = key, addr
		want := Sign(secret, c)
		if got := s.Sign(key, addr); got != want {
			t.Fatalf("signer %s\n  sign %s", got, want)
		}
		if got := string(s.AppendSign([]byte("<x"), key, addr)); got != "<x"+want {
			t.Fatalf("append %s\n  sign %s", got, want)
		}
		if n := s.TokenLen(key, addr); n > len(want) || plain(key) && plain(addr) && n != len(want) {
			t.Fatalf("token length %d, token %d bytes", n, len(want))
		}
	})
}

// go test ./shared/unsubscribe -run '^$' -bench Sign -benchmem
func BenchmarkSigner(b *testing.B) {
	s := NewSigner([]byte("0123456789abcdef0123456789abcdef"), Claims{Campaign: "reference",
		Run: "01a2270d-6efd-74e3-b715-d4c55543c030", Activity: "mailActive", Channel: "email", IssuedAt: 1795000000})
	b.ReportAllocs()
	for b.Loop() {
		s.Sign("c0001234", "jane.doe@example.com")
	}
}

// plain reports whether JSON writes s as it is between quotes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
