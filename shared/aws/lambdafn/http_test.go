package lambdafn_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func TestHTTPAdapter(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "api.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(data, &ev); err != nil {
		t.Fatal(err)
	}
	var seen *http.Request
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"ok":true}`))
	})
	fn := lambdafn.HTTP(h)
	res, err := fn(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if seen.Method != "GET" || seen.URL.Path != "/v1/campaigns" || seen.URL.Query().Get("limit") != "20" || seen.Header.Get("Accept") != "application/json" || seen.RemoteAddr != "203.0.113.7:0" {
		t.Errorf("request %s %s %v %s", seen.Method, seen.URL, seen.Header, seen.RemoteAddr)
	}
	if seen.TLS == nil || seen.Host != "abcdef1234.execute-api.eu-west-1.amazonaws.com" {
		t.Errorf("a request through API Gateway (HTTPS only) should look like TLS to %s: %v", seen.Host, seen.TLS)
	}
	if res.StatusCode != 201 || res.Body != `{"ok":true}` || res.Headers["Content-Type"] != "application/json" || len(res.Cookies) != 1 {
		t.Errorf("response %+v", res)
	}
	ev2 := ev
	ev2.Headers = map[string]string{"x-forwarded-proto": "http"}
	lambdafn.HTTP(h)(context.Background(), ev2)
	if seen.TLS != nil {
		t.Errorf("x-forwarded-proto http: TLS set")
	}
	// A binary body arrives base64-encoded and goes back so.
	ev.RequestContext.HTTP.Method, ev.IsBase64Encoded, ev.Body = "PUT", true, base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0x01})
	h2 := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b, _ := io.ReadAll(r.Body); w.Write(b) })
	res, _ = lambdafn.HTTP(h2)(context.Background(), ev)
	if !res.IsBase64Encoded || res.Body != ev.Body {
		t.Errorf("binary round trip: %+v", res)
	}
}
