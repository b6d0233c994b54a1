package awsshape_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// counter counts requests by kind.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(k string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k] += n
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
}

// countS3 counts S3 requests by price class: GET (GET, HEAD), PUT (PUT,
// POST, COPY), LIST, DELETE (free).
func countS3(h http.Handler, c *counter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.Trim(r.URL.Path, "/")
		switch {
		case r.Method == http.MethodGet && (!strings.Contains(path, "/") || r.URL.Query().Has("list-type")):
			c.add("LIST", 1)
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			c.add("GET", 1)
		case r.Method == http.MethodPut || r.Method == http.MethodPost:
			c.add("PUT", 1)
		case r.Method == http.MethodDelete:
			c.add("DELETE", 1)
		}
		h.ServeHTTP(w, r)
	})
}

// countDynamoDB proxies to DynamoDB Local, counting operations (and the
// items of transactions and batches).
func countDynamoDB(target string, c *counter) http.Handler {
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		c.add(op, 1)
		switch op {
		case "TransactWriteItems":
			var in struct{ TransactItems []json.RawMessage }
			json.Unmarshal(body, &in)
			c.add(op+".items", len(in.TransactItems))
		case "BatchGetItem", "BatchWriteItem":
			var in struct {
				RequestItems map[string][]json.RawMessage
			}
			var keys struct {
				RequestItems map[string]struct{ Keys []json.RawMessage }
			}
			if op == "BatchGetItem" {
				json.Unmarshal(body, &keys)
				for _, t := range keys.RequestItems {
					c.add(op+".items", len(t.Keys))
				}
			} else {
				json.Unmarshal(body, &in)
				for _, t := range in.RequestItems {
					c.add(op+".items", len(t))
				}
			}
		}
		proxy.ServeHTTP(w, r)
	})
}
