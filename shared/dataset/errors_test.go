package dataset

import (
	"fmt"
	"testing"

	"github.com/stepwise-run/stepwise/shared/failure"
)

// An engine failure is named by its kind and detail at the function
// boundary: I/O that may pass is Retryable, a problem with the data or the
// query InvalidInput; the message shows neither.
func TestEngineErrorClassify(t *testing.T) {
	for _, c := range []struct {
		kind, detail, want string
	}{
		{"IO Error", "IO Error: Could not write file: No space left on device", "Retryable"},
		{"HTTP Error", "HTTP Error: HTTP GET error on 'https://b.s3.amazonaws.com/x' (HTTP 503)", "Retryable"},
		{"IO Error", "IO Error: No files found that match the pattern", "InvalidInput"},
		{"Binder Error", "Binder Error: column connection_timeout not found", "InvalidInput"},
		{"Conversion Error", "Conversion Error: could not convert string '503' to INT32", "InvalidInput"},
	} {
		ee := &EngineError{Op: "query", Kind: c.kind, detail: c.detail}
		err := failure.Classify(fmt.Errorf("dataset x: %w", ee))
		if n := failure.Name(err); n != c.want {
			t.Errorf("%s: %s, want %s", c.detail, n, c.want)
		}
		if err.Error() != "dataset x: "+ee.Error() {
			t.Errorf("message %q", err.Error())
		}
	}
}
