// Package unsubscribe signs and verifies the one-click unsubscribe tokens that
// channel activities put in List-Unsubscribe headers and {{ message.unsubscribeUrl }}.
//
// A token is base64url(payload) "." base64url(HMAC-SHA256(secret, payload)), both
// without padding, where payload is the JSON of Claims. Tokens do not expire: an
// unsubscribe link must keep working for as long as the message exists. IssuedAt is
// kept so that a leaked secret's tokens can be cut off by date if ever needed. The
// claims are signed, not encrypted: a token shows the address it unsubscribes to
// whoever holds it, the recipient.
package unsubscribe

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Version is the token format version carried in the claims.
const Version = 1

// MinSecretLen is the shortest secret Sign and Verify accept.
const MinSecretLen = 16

// MaxTokenLen bounds the tokens Verify looks at.
const MaxTokenLen = 4096

// Claims is what a token asserts: this recipient of this message asks not to be
// messaged at Address on Channel again.
type Claims struct {
	Campaign  string `json:"c"`
	Run       string `json:"r"`
	Activity  string `json:"a"`
	Recipient string `json:"k"`  // the recipient's key in the targeting dimension
	Channel   string `json:"ch"` // email, sms, push
	Address   string `json:"ad"`
	// IssuedAt is set by Sign (Unix seconds) when zero.
	IssuedAt int64 `json:"iat"`
	V        int   `json:"v"`
}

// ErrInvalid is returned for a token that is malformed, altered or signed with another
// secret.
var ErrInvalid = errors.New("invalid unsubscribe token")

var enc = base64.RawURLEncoding

// Sign returns the token of c. It panics on a secret shorter than MinSecretLen, a
// configuration error.
func Sign(secret []byte, c Claims) string {
	mustSecret(secret)
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	c.V = Version
	n := 96 + sha256.Size + len(c.Campaign) + len(c.Run) + len(c.Activity) + len(c.Recipient) + len(c.Channel) + len(c.Address)
	payload := appendClaims(make([]byte, 0, n), c)
	sig := macTo(payload, secret, payload)[len(payload):] // in payload's spare capacity
	tok := make([]byte, 0, enc.EncodedLen(len(payload))+1+enc.EncodedLen(len(sig)))
	tok = enc.AppendEncode(tok, payload)
	tok = append(tok, '.')
	return string(enc.AppendEncode(tok, sig))
}

// appendClaims appends the JSON of c, byte for byte what encoding/json writes (a
// channel signs one token per message; reflection was a third of the cost).
func appendClaims(b []byte, c Claims) []byte {
	for i, f := range [...]struct{ name, v string }{
		{"c", c.Campaign}, {"r", c.Run}, {"a", c.Activity}, {"k", c.Recipient}, {"ch", c.Channel}, {"ad", c.Address},
	} {
		if i == 0 {
			b = append(b, '{')
		} else {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = appendJSONString(b, f.v)
	}
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, c.IssuedAt, 10)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, int64(c.V), 10)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json quotes it: plain printable ASCII as is,
// anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// URL returns the unsubscribe link for a token: base (the public API URL, such as
// https://api.example.com) + "/unsubscribe/" + token.
func URL(base, token string) string {
	return strings.TrimRight(base, "/") + "/unsubscribe/" + url.PathEscape(token)
}

// Verify checks the token's signature with secret and returns its claims.
func Verify(secret []byte, token string) (Claims, error) {
	mustSecret(secret)
	if len(token) > MaxTokenLen {
		return Claims{}, ErrInvalid
	}
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrInvalid
	}
	payload, err := enc.DecodeString(p)
	if err != nil {
		return Claims{}, ErrInvalid
	}
	sig, err := enc.DecodeString(s)
	if err != nil || !hmac.Equal(sig, mac(secret, payload)) {
		return Claims{}, ErrInvalid
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, ErrInvalid
	}
	if c.V != Version {
		return Claims{}, fmt.Errorf("%w: version %d", ErrInvalid, c.V)
	}
	if c.Channel == "" || c.Address == "" {
		return Claims{}, fmt.Errorf("%w: no channel or address", ErrInvalid)
	}
	return c, nil
}

func mac(secret, payload []byte) []byte { return macTo(nil, secret, payload) }

// macTo appends the signature of payload to b.
func macTo(b, secret, payload []byte) []byte {
	h := macs(secret)
	m := h.Get().(hash.Hash)
	defer h.Put(m)
	m.Reset()
	m.Write([]byte("stepwise-unsubscribe\x00"))
	m.Write(payload)
	return m.Sum(b)
}

// macPools keeps HMAC states per secret: a campaign signs a token per message,
// and keying HMAC-SHA256 anew each time was a fifth of the signing cost.
var macPools sync.Map // string(secret) → *sync.Pool of hash.Hash

func macs(secret []byte) *sync.Pool {
	if p, ok := macPools.Load(string(secret)); ok {
		return p.(*sync.Pool)
	}
	key := bytes.Clone(secret)
	p, _ := macPools.LoadOrStore(string(key), &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }})
	return p.(*sync.Pool)
}

func mustSecret(secret []byte) {
	if len(secret) < MinSecretLen {
		panic(fmt.Sprintf("unsubscribe: secret must be at least %d bytes", MinSecretLen))
	}
}

// SecretEnv names the environment variable that holds the secret (hex or text, at
// least MinSecretLen bytes), in every mode.
const SecretEnv = "STEPWISE_UNSUBSCRIBE_SECRET"

// SecretFile is the file under a local home that keeps the generated secret.
const SecretFile = "unsubscribe.key"

// LocalSecret returns the secret of a local home: SecretEnv when set, otherwise the
// contents of home/unsubscribe.key, created with 32 random bytes on first use. Every
// process of the home (serve, run) signs and verifies with it.
func LocalSecret(home string) ([]byte, error) {
	if s := os.Getenv(SecretEnv); s != "" {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("%s must be at least %d bytes", SecretEnv, MinSecretLen)
		}
		return []byte(s), nil
	}
	path := filepath.Join(home, SecretFile)
	if data, err := os.ReadFile(path); err == nil && len(data) >= MinSecretLen {
		return data, nil
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) { // another process made it first
		return os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return nil, err
	}
	return secret, f.Close()
}

// Signer signs the tokens of many messages that share campaign, run,
// activity, channel and issue time: the claims they share are encoded once.
// Its tokens are Sign's, byte for byte.
type Signer struct {
	secret []byte
	// prefix is the claims' JSON up to the recipient; its first whole
	// base64 groups are encoded once (head), the rest (tail) with the claims
	// that vary.
	prefix, tail []byte
	head         string
	mid          []byte // the JSON between recipient and address
	end          []byte // the JSON after the address
	split        bool   // false: prefix etc. unset, each token signed whole
	shared       Claims
}

// NewSigner returns the signer of c's shared claims (Recipient and Address
// are ignored). It panics on a secret shorter than MinSecretLen.
func NewSigner(secret []byte, c Claims) *Signer {
	mustSecret(secret)
	if c.IssuedAt == 0 {
		c.IssuedAt = time.Now().Unix()
	}
	c.V = Version
	// appendClaims with markers where the recipient and address go.
	c.Recipient, c.Address = "\x00k", "\x00a"
	full := appendClaims(nil, c)
	km, am := []byte(`"\u0000k"`), []byte(`"\u0000a"`)
	s := &Signer{secret: bytes.Clone(secret), shared: c}
	if bytes.Count(full, km) != 1 || bytes.Count(full, am) != 1 {
		return s // a shared claim holds a marker: sign each token whole
	}
	s.split = true
	k, a := bytes.Index(full, km), bytes.Index(full, am)
	s.prefix = full[:k]
	s.mid = full[k+len(`"\u0000k"`) : a]
	s.end = full[a+len(`"\u0000a"`):]
	whole := len(s.prefix) / 3 * 3
	s.head = enc.EncodeToString(s.prefix[:whole])
	s.tail = s.prefix[whole:]
	return s
}

// Sign returns the token of the shared claims with recipient and address.
func (s *Signer) Sign(recipient, address string) string {
	if !s.split {
		c := s.shared
		c.Recipient, c.Address = recipient, address
		return Sign(s.secret, c)
	}
	tok := s.AppendSign(nil, recipient, address)
	return unsafe.String(unsafe.SliceData(tok), len(tok))
}

// TokenLen is the length of Sign's token when recipient and address are
// printable ASCII without quotes, backslashes or <>& (longer otherwise).
func (s *Signer) TokenLen(recipient, address string) int {
	if !s.split {
		return len(s.Sign(recipient, address))
	}
	n := len(s.prefix) + len(s.mid) + len(s.end) + len(recipient) + len(address) + 4
	return len(s.head) + enc.EncodedLen(n-(len(s.prefix)-len(s.tail))) + 1 + enc.EncodedLen(sha256.Size)
}

// AppendSign appends Sign's token to b (a URL or header built around the
// token without copying it again).
func (s *Signer) AppendSign(b []byte, recipient, address string) []byte {
	if !s.split {
		return append(b, s.Sign(recipient, address)...)
	}
	n := len(s.prefix) + len(s.mid) + len(s.end) + len(recipient) + len(address) + 4
	payload := make([]byte, 0, n+sha256.Size)
	payload = append(payload, s.prefix...)
	payload = appendJSONString(payload, recipient)
	payload = append(payload, s.mid...)
	payload = appendJSONString(payload, address)
	payload = append(payload, s.end...)
	sig := macTo(payload, s.secret, payload)[len(payload):]
	rest := payload[len(s.prefix)-len(s.tail):]
	b = slices.Grow(b, len(s.head)+enc.EncodedLen(len(rest))+1+enc.EncodedLen(len(sig)))
	b = append(b, s.head...)
	b = enc.AppendEncode(b, rest)
	b = append(b, '.')
	return enc.AppendEncode(b, sig)
}
