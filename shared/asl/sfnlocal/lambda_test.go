package sfnlocal_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
)

func TestLambdaHandler(t *testing.T) {
	srv := httptest.NewServer(sfnlocal.LambdaHandler(sfnlocal.FixtureInvoker()))
	defer srv.Close()
	tests := []struct {
		name, method, path, body string
		status                   int
		fnErr, want              string
	}{
		{"ok", "POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Aadd/invocations", `{"a":1,"b":2}`, 200, "", `{"sum":3}`},
		{"plain name", "POST", "/2015-03-31/functions/echo/invocations", `[1]`, 200, "", `[1]`},
		{"go type name", "POST", "/2015-03-31/functions/flaky/invocations", `{}`, 200, "Unhandled", `{"errorType":"Throttled","errorMessage":"throttled on call 1"}`},
		{"failure name", "POST", "/2015-03-31/functions/boom/invocations", `{}`, 200, "Unhandled", `{"errorType":"Permanent","errorMessage":"boom"}`},
		{"wrong path", "POST", "/2015-03-31/functions/echo", `{}`, 404, "", ""},
		{"wrong method", "GET", "/2015-03-31/functions/echo/invocations", ``, 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || resp.Header.Get("X-Amz-Function-Error") != tt.fnErr {
				t.Fatalf("status %d, function error %q; want %d, %q", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"), tt.status, tt.fnErr)
			}
			if tt.want != "" {
				if same, err := sfnlocal.SameJSON(json.RawMessage(tt.want), body); err != nil || !same {
					t.Errorf("body %s, want %s", body, tt.want)
				}
			}
		})
	}
}

// TestRunJobsValidate runs asl-validator on a fixture through the runner.
func TestRunJobsValidate(t *testing.T) {
	fixtures, err := sfnlocal.LoadFixtures("../interp/testdata")
	if err != nil {
		t.Fatal(err)
	}
	f := fixtures[0]
	res := sfnlocal.RunJobs(t, []sfnlocal.Job{{Definition: f.Definition, Input: f.Cases[0].Input, Invoker: sfnlocal.FixtureInvoker()}}, sfnlocal.Options{Validate: true})
	if res[0].Error != f.Cases[0].Error {
		t.Fatalf("%s: error %q, want %q", f.Name, res[0].Error, f.Cases[0].Error)
	}
}
