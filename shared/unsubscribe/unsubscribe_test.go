package unsubscribe

import (
	"strings"
	"testing"
)

var secret = []byte("0123456789abcdef-test-secret")

func TestRoundTrip(t *testing.T) {
	c := Claims{Campaign: "winback-q4", Run: "r1", Activity: "sendVip", Recipient: "C0001", Channel: "email", Address: "ann@example.com"}
	tok := Sign(secret, c)
	if strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token is not URL-safe: %s", tok)
	}
	got, err := Verify(secret, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.IssuedAt == 0 || got.V != Version {
		t.Fatalf("issued-at/version not set: %+v", got)
	}
	got.IssuedAt, got.V = 0, 0
	if got != c {
		t.Fatalf("claims: got %+v want %+v", got, c)
	}
	if u := URL("https://api.example.com/", tok); u != "https://api.example.com/unsubscribe/"+tok {
		t.Fatalf("URL: %s", u)
	}
}

func TestRejects(t *testing.T) {
	tok := Sign(secret, Claims{Campaign: "c", Channel: "email", Address: "a@b.c"})
	p, s, _ := strings.Cut(tok, ".")
	other := Sign([]byte("another-secret-of-16+"), Claims{Campaign: "c", Channel: "email", Address: "a@b.c"})
	forged := enc.EncodeToString([]byte(`{"c":"c","ch":"email","ad":"victim@b.c","v":1}`)) + "." + s
	for name, bad := range map[string]string{
		"empty": "", "no dot": p, "bad base64": p + ".***", "other secret": other,
		"forged payload": forged, "truncated sig": tok[:len(tok)-2], "huge": strings.Repeat("a", MaxTokenLen+1),
	} {
		if _, err := Verify(secret, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestShortSecretPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Sign([]byte("short"), Claims{})
}

func TestLocalSecret(t *testing.T) {
	t.Setenv(SecretEnv, "")
	home := t.TempDir()
	a, err := LocalSecret(home)
	if err != nil || len(a) != 32 {
		t.Fatalf("%v %d", err, len(a))
	}
	b, _ := LocalSecret(home)
	if string(a) != string(b) {
		t.Fatal("the secret changed")
	}
	t.Setenv(SecretEnv, "from-the-environment!")
	c, _ := LocalSecret(home)
	if string(c) != "from-the-environment!" {
		t.Fatal("env not used")
	}
}
