package channel_test

import (
	"net/mail"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
)

// An address that skips the full parser is one net/mail accepts as it is.
func FuzzPlainAddress(f *testing.F) {
	for _, s := range []string{"ann@x.com", "a.b+c_d%e-f@mail-1.example.org", "A9@B9", "a@b", ".a@b.c", "a.@b.c",
		"a..b@c", "a@b..c", "a@.b", "a@b.", "@b.c", "a@", "a@b@c", "Ann <a@b.c>", "a b@c", "\"a\"@b.c", "a@[1.2.3.4]",
		"é@x.com", "a@x_y.com", "a/b@c", "a@b-", "-a@-b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !channel.PlainAddress(s) {
			return
		}
		a, err := mail.ParseAddress(s)
		if err != nil || a.Name != "" || a.Address != s || !strings.Contains(a.Address, "@") {
			t.Fatalf("%q is plain but net/mail gives %+v, %v", s, a, err)
		}
	})
}

func TestPlainAddress(t *testing.T) {
	for s, want := range map[string]bool{"ann@x.com": true, "a.b+c_d%e-f@mail-1.example.org": true, "a@b": true,
		".a@b.c": false, "a..b@c": false, "a@b.": false, "Ann <a@b.c>": false, "\"a\"@b.c": false, "a@b@c": false,
		"é@x.com": false, "": false, "a@": false, "@b": false} {
		if got := channel.PlainAddress(s); got != want {
			t.Errorf("PlainAddress(%q) = %v, want %v", s, got, want)
		}
	}
}
