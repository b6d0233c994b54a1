package lambdafn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// HTTP adapts an http.Handler to API Gateway HTTP API events (payload
// format 2.0): the API function serves the same handlers as `stepwise
// serve`.
func HTTP(h http.Handler) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	return func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		body := []byte(e.Body)
		if e.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(e.Body)
			if err != nil {
				return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Body: `{"code":"bad_body","message":"body is not base64"}`}, nil
			}
			body = b
		}
		target := e.RawPath
		if target == "" {
			target = "/"
		}
		if e.RawQueryString != "" {
			target += "?" + e.RawQueryString
		}
		method := e.RequestContext.HTTP.Method
		if method == "" {
			method = http.MethodGet
		}
		r := httptest.NewRequest(method, target, bytes.NewReader(body)).WithContext(ctx)
		for k, v := range e.Headers {
			// API Gateway joins repeated headers with commas.
			r.Header.Set(k, v)
		}
		if len(e.Cookies) > 0 {
			r.Header.Set("Cookie", strings.Join(e.Cookies, "; "))
		}
		r.Host = e.RequestContext.DomainName
		// API Gateway serves HTTPS only (and says so): handlers that look at
		// r.TLS (Secure cookies, same-origin checks) see what the browser used.
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "" && e.RequestContext.DomainName != "" {
			r.TLS = &tls.ConnectionState{}
		}
		if ip := e.RequestContext.HTTP.SourceIP; ip != "" {
			r.RemoteAddr = ip + ":0"
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		res := w.Result()
		out, _ := io.ReadAll(res.Body)
		resp := events.APIGatewayV2HTTPResponse{StatusCode: res.StatusCode, Headers: map[string]string{}}
		for k, vs := range res.Header {
			if k == "Set-Cookie" {
				resp.Cookies = vs
				continue
			}
			resp.Headers[k] = strings.Join(vs, ", ")
		}
		if utf8.Valid(out) {
			resp.Body = string(out)
		} else {
			resp.Body, resp.IsBase64Encoded = base64.StdEncoding.EncodeToString(out), true
		}
		return resp, nil
	}
}
