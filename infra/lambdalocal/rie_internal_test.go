package lambdalocal

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// An invocation the emulator's reset canceled (502, Sandbox.Failure,
// ErrGateCanceled) is sent again until it runs; any other 502 is an error
// at once.
func TestInvokeRetriesGateCanceled(t *testing.T) {
	const canceled = `{"errorType":"Sandbox.Failure","errorMessage":"RequestId: 1 Error: ErrGateCanceled"}`
	for _, c := range []struct {
		name    string
		answers []string // 502 bodies before a 200
		calls   int
		fails   bool
	}{
		{"canceled twice", []string{canceled, canceled}, 3, false},
		{"other failure", []string{`{"errorType":"Sandbox.Failure","errorMessage":"Runtime exited with error: signal: killed"}`}, 1, true},
		{"canceled for good", slices.Repeat([]string{canceled}, 20), 8, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls++
				if calls <= len(c.answers) {
					w.WriteHeader(http.StatusBadGateway)
					w.Write([]byte(c.answers[calls-1]))
					return
				}
				w.Write([]byte(`{"ok":true}`))
			}))
			defer srv.Close()
			r := &RIE{Name: "Echo", URL: srv.URL, client: srv.Client()}
			res, err := r.Invoke(context.Background(), []byte(`{}`))
			if calls != c.calls || (err != nil) != c.fails {
				t.Fatalf("%d calls, %v; want %d calls, failure %v", calls, err, c.calls, c.fails)
			}
			if !c.fails && (string(res.Payload) != `{"ok":true}` || res.FunctionError != "") {
				t.Errorf("answer %+v", res)
			}
			if c.fails && !strings.Contains(err.Error(), "502") {
				t.Errorf("error %v does not say what the emulator answered", err)
			}
		})
	}
}
