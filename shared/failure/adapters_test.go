//go:build !lambda.norpc

package failure_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	miniserver "github.com/truora/minidyn/server"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/local/boltstate"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/runner"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/smtpsend"
	"github.com/stepwise-run/stepwise/shared/state"
)

// fault makes a fake AWS endpoint answer with an error while set.
type fault struct {
	status atomic.Int64
	body   atomic.Value // string
	header atomic.Value // http.Header
}

func (f *fault) set(status int, body string, h http.Header) {
	f.body.Store(body)
	f.header.Store(h)
	f.status.Store(int64(status))
}

func (f *fault) clear() { f.status.Store(0) }

func (f *fault) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := int(f.status.Load())
		if st == 0 {
			next.ServeHTTP(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		for k, v := range f.header.Load().(http.Header) {
			w.Header()[k] = v
		}
		w.WriteHeader(st)
		if r.Method != http.MethodHead {
			io.WriteString(w, f.body.Load().(string))
		}
	})
}

// fastRetries retries as the SDK does by default, without waiting: the
// errors the adapters see are those the SDK gives up on.
func fastRetries() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
	})
}

func fakeS3(t *testing.T) (*s3blob.Store, *fault) {
	f := &fault{}
	ts := httptest.NewServer(f.wrap(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server()))
	t.Cleanup(ts.Close)
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}, Retryer: fastRetries(),
	})
	return s3blob.New(client, "bucket", ""), f
}

func fakeDynamo(t *testing.T) (*dynamostate.Store, *fault) {
	f := &fault{}
	ts := httptest.NewServer(f.wrap(miniserver.NewServer()))
	t.Cleanup(ts.Close)
	db := dynamodb.New(dynamodb.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ts.URL),
		Credentials:                     credentials.NewStaticCredentialsProvider("local", "local", ""),
		DisableValidateResponseChecksum: true, Retryer: fastRetries(),
	})
	if _, err := db.CreateTable(context.Background(), dynamostate.Schema("t")); err != nil {
		t.Fatal(err)
	}
	return dynamostate.New(db, "t"), f
}

var (
	slowDown   = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`
	xmlHeader  = http.Header{"Content-Type": {"application/xml"}}
	jsonHeader = http.Header{"Content-Type": {"application/x-amz-json-1.0"}}
)

func dynamoError(code, msg string) string {
	return fmt.Sprintf(`{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, code, msg)
}

// produced is an error an adapter returned, by the path that produced it.
type produced struct {
	path string
	err  error
}

// adapterErrors runs adapters into their failures: every error comes from a
// real adapter call (in-process fakes of S3 and DynamoDB, a local folder and
// bolt store, DuckDB, an SMTP client), never from a constructed value.
func adapterErrors(t *testing.T) []produced {
	ctx := context.Background()
	var out []produced
	add := func(path string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", path)
		}
		out = append(out, produced{path, err})
	}

	// S3.
	s3s, s3f := fakeS3(t)
	if err := s3s.Put(ctx, "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	s3f.set(http.StatusServiceUnavailable, slowDown, xmlHeader)
	_, err := s3s.Get(ctx, "k")
	add("s3blob Get, 503 SlowDown", err)
	add("s3blob Put, 503 SlowDown", s3s.Put(ctx, "k2", strings.NewReader("v")))
	_, err = s3s.Stat(ctx, "k")
	add("s3blob Stat, 503", err)
	s3f.set(http.StatusInternalServerError, `<Error><Code>InternalError</Code><Message>oops</Message></Error>`, xmlHeader)
	_, err = s3s.Get(ctx, "k")
	add("s3blob Get, 500 InternalError", err)
	eng, err := dataset.New(dataset.Options{Store: s3s, WorkDir: t.TempDir(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	s3f.set(http.StatusServiceUnavailable, slowDown, xmlHeader)
	_, err = eng.StageDataset(ctx, "v", dataset.Ref("runs/r1/a/out"))
	add("dataset StageDataset on S3, 503 SlowDown", err)
	s3f.set(http.StatusForbidden, `<Error><Code>AccessDenied</Code><Message>no</Message></Error>`, xmlHeader)
	_, err = s3s.Get(ctx, "k")
	add("s3blob Get, 403 AccessDenied", err)
	s3f.set(http.StatusOK, "v", http.Header{"Content-Length": {"100"}})
	if rc, err := s3s.Get(ctx, "k"); err != nil {
		t.Fatal(err)
	} else {
		_, err = io.ReadAll(rc)
		rc.Close()
		add("s3blob Get, body cut short", err)
	}
	s3f.clear()
	_, err = s3s.Get(ctx, "missing")
	add("s3blob Get, missing key", err)
	add("s3blob PutIfAbsent, key taken", s3s.PutIfAbsent(ctx, "k", strings.NewReader("w")))
	_, err = eng.StageDataset(ctx, "v", dataset.Ref("runs/r1/a/out"))
	add("dataset StageDataset, absent dataset", err)
	add("dataset Exec, unknown column", eng.Exec(ctx, "SELECT nosuch FROM (SELECT 1 AS a)"))

	// DynamoDB.
	dyn, df := fakeDynamo(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := dyn.CreateCampaign(ctx, state.Campaign{ID: "c", Name: "C"}); err != nil {
		t.Fatal(err)
	}
	_, err = dyn.CreateCampaign(ctx, state.Campaign{ID: "c", Name: "C"})
	add("dynamostate CreateCampaign, ConditionalCheckFailed", err)
	if _, err := dyn.CommitTable(ctx, "customers", 0, "ref1", at); err != nil {
		t.Fatal(err)
	}
	_, err = dyn.CommitTable(ctx, "customers", 0, "ref2", at)
	add("dynamostate CommitTable, version moved on", err)
	_, err = dyn.GetRun(ctx, "nosuchrun")
	add("dynamostate GetRun, missing run", err)
	df.set(http.StatusBadRequest, dynamoError("ThrottlingException", "Rate exceeded"), jsonHeader)
	_, err = dyn.GetCampaign(ctx, "c")
	add("dynamostate GetCampaign, ThrottlingException", err)
	df.set(http.StatusBadRequest, dynamoError("ProvisionedThroughputExceededException", "too fast"), jsonHeader)
	_, err = dyn.CommitTable(ctx, "customers", 1, "ref3", at)
	add("dynamostate CommitTable, ProvisionedThroughputExceeded", err)
	df.set(http.StatusInternalServerError, dynamoError("InternalServerError", "oops"), jsonHeader)
	_, err = dyn.ListCampaigns(ctx)
	add("dynamostate ListCampaigns, 500", err)
	df.set(http.StatusBadRequest, dynamoError("AccessDeniedException", "no"), jsonHeader)
	_, err = dyn.GetCampaign(ctx, "c")
	add("dynamostate GetCampaign, AccessDenied", err)
	df.clear()
	expired, cancel := context.WithDeadline(ctx, at)
	defer cancel()
	_, err = dyn.GetCampaign(expired, "c")
	add("dynamostate GetCampaign, deadline passed", err)

	// Local folder and bolt store.
	fb, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = fb.Get(ctx, "missing")
	add("folderblob Get, missing key", err)
	if err := fb.PutIfAbsent(ctx, "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	add("folderblob PutIfAbsent, key taken", fb.PutIfAbsent(ctx, "k", strings.NewReader("w")))
	bolt, err := boltstate.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	if _, err := bolt.CommitTable(ctx, "customers", 0, "ref1", at); err != nil {
		t.Fatal(err)
	}
	_, err = bolt.CommitTable(ctx, "customers", 0, "ref2", at)
	add("boltstate CommitTable, version moved on", err)
	_, err = bolt.GetRun(ctx, "nosuchrun")
	add("boltstate GetRun, missing run", err)

	// A sender whose server is down.
	smtp := smtpsend.New(smtpsend.Options{Addr: closedAddr(t), Timeout: time.Second})
	_, err = smtp.Send(ctx, &send.Message{Channel: send.Email, From: "a@example.com", To: "b@example.com", Subject: "s", Text: "t", IdempotencyKey: "k"})
	add("smtpsend Send, connection refused", err)
	return out
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	ts := httptest.NewServer(http.NotFoundHandler())
	addr := ts.Listener.Addr().String()
	ts.Close()
	return addr
}

// want is the name each adapter path must end with at the function boundary.
var want = map[string]string{
	"s3blob Get, 503 SlowDown":                               "Retryable",
	"s3blob Put, 503 SlowDown":                               "Retryable",
	"s3blob Stat, 503":                                       "Retryable",
	"s3blob Get, 500 InternalError":                          "Retryable",
	"dataset StageDataset on S3, 503 SlowDown":               "Retryable",
	"s3blob Get, 403 AccessDenied":                           "InvalidInput",
	"s3blob Get, body cut short":                             "Retryable",
	"s3blob Get, missing key":                                "InvalidInput",
	"s3blob PutIfAbsent, key taken":                          "Conflict",
	"dataset StageDataset, absent dataset":                   "InvalidInput",
	"dataset Exec, unknown column":                           "InvalidInput",
	"dynamostate CreateCampaign, ConditionalCheckFailed":     "Conflict",
	"dynamostate CommitTable, version moved on":              "Conflict",
	"dynamostate GetRun, missing run":                        "InvalidInput",
	"dynamostate GetCampaign, ThrottlingException":           "Retryable",
	"dynamostate CommitTable, ProvisionedThroughputExceeded": "Retryable",
	"dynamostate ListCampaigns, 500":                         "Retryable",
	"dynamostate GetCampaign, AccessDenied":                  "InvalidInput",
	"dynamostate GetCampaign, deadline passed":               "Retryable",
	"folderblob Get, missing key":                            "InvalidInput",
	"folderblob PutIfAbsent, key taken":                      "Conflict",
	"boltstate CommitTable, version moved on":                "Conflict",
	"boltstate GetRun, missing run":                          "InvalidInput",
	"smtpsend Send, connection refused":                      "Retryable",
}

// retriers are the Retry rules of the compiled goldens.
func retriers(t *testing.T) []json.RawMessage {
	files, err := filepath.Glob("../../statemachines/*.asl.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	seen := map[string]bool{}
	var out []json.RawMessage
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if rs, ok := v["Retry"].([]any); ok {
				for _, r := range rs {
					b, _ := json.Marshal(r)
					if !seen[string(b)] {
						seen[string(b)] = true
						out = append(out, b)
					}
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		walk(v)
	}
	if len(out) == 0 {
		t.Fatal("the goldens retry nothing")
	}
	return out
}

// lambdaName is the errorType aws-lambda-go reports for a handler that
// returns err, by its own code path (the response of an invocation).
func lambdaName(t *testing.T, err error) string {
	t.Helper()
	h := lambda.NewHandler(func(context.Context, json.RawMessage) (json.RawMessage, error) { return nil, err })
	var res messages.InvokeResponse
	req := &messages.InvokeRequest{Payload: []byte("{}"), Deadline: messages.InvokeRequest_Timestamp{Seconds: time.Now().Add(time.Minute).Unix()}}
	if e := lambda.NewFunction(h).Invoke(req, &res); e != nil || res.Error == nil {
		t.Fatalf("aws-lambda-go: %v %+v", e, res)
	}
	return res.Error.Type
}

const task = `"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:stepwise-F","End":true`

// localName runs a Task whose function fails with err in the local
// interpreter and returns the error name the execution fails with.
func localName(t *testing.T, err error) string {
	t.Helper()
	inv := interp.InvokerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) { return nil, err })
	_, e := interp.Run(context.Background(), []byte(`{"StartAt":"T","States":{"T":{`+task+`}}}`), nil, interp.Options{Invoker: inv, Wait: interp.WaitSkip})
	var f *interp.Failure
	if !errors.As(e, &f) {
		t.Fatalf("local run: %v", e)
	}
	return f.Name
}

// localRetried runs a Task with retrier whose function fails once with err,
// and reports whether the interpreter retried it.
func localRetried(t *testing.T, retrier json.RawMessage, err error) bool {
	t.Helper()
	var calls atomic.Int64
	inv := interp.InvokerFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
		if calls.Add(1) == 1 {
			return nil, err
		}
		return json.RawMessage(`{}`), nil
	})
	def := `{"StartAt":"T","States":{"T":{` + task + `,"Retry":[` + string(retrier) + `]}}}`
	_, e := interp.Run(context.Background(), []byte(def), nil, interp.Options{Invoker: inv, Wait: interp.WaitSkip})
	return e == nil && calls.Load() == 2
}

// TestRetriedNamesAreProduced: every error name the compiled Retry rules
// list is produced by some adapter path, classified at the function
// boundary, and named the same by aws-lambda-go and by the local
// interpreter, which retries it by the golden's rule. The Lambda.* names are
// raised by the Lambda service for an invocation that did not run, never by
// a function: no Go type can have that name.
func TestRetriedNamesAreProduced(t *testing.T) {
	rules := retriers(t)
	retried := map[string]bool{}
	for _, r := range rules {
		var rule struct{ ErrorEquals []string }
		json.Unmarshal(r, &rule)
		for _, n := range rule.ErrorEquals {
			retried[n] = true
		}
	}
	for _, n := range failure.RetryableErrors {
		if !retried[n] {
			t.Errorf("%s is in RetryableErrors but no golden retries it", n)
		}
	}
	byName := map[string][]string{}
	for _, p := range adapterErrors(t) {
		w, ok := want[p.path]
		if !ok {
			t.Errorf("%s: no expected name", p.path)
			continue
		}
		err := failure.Classify(p.err) // what the runner returns
		name := failure.Name(err)
		if name != w {
			t.Errorf("%s: %v is %s, want %s", p.path, p.err, name, w)
			continue
		}
		if err.Error() != p.err.Error() {
			t.Errorf("%s: message %q, want %q", p.path, err.Error(), p.err.Error())
		}
		if l := lambdaName(t, err); l != name {
			t.Errorf("%s: aws-lambda-go names it %q, failure.Name %q", p.path, l, name)
		}
		if l := localName(t, err); l != name {
			t.Errorf("%s: the interpreter names it %q, failure.Name %q", p.path, l, name)
		}
		for _, r := range rules {
			var rule struct{ ErrorEquals []string }
			json.Unmarshal(r, &rule)
			if got, w := localRetried(t, r, err), slices.Contains(rule.ErrorEquals, name); got != w {
				t.Errorf("%s: %s retried locally by %s: %v, want %v", p.path, name, r, got, w)
			}
		}
		t.Logf("%s: %s: %v", p.path, name, p.err)
		byName[name] = append(byName[name], p.path)
	}
	for n := range retried {
		// Lambda.* and Athena.* are Step Functions' own names for its service
		// integrations' errors (an invocation, a query): no adapter of ours makes them.
		if strings.HasPrefix(n, "Lambda.") || strings.HasPrefix(n, "Athena.") {
			continue
		}
		if len(byName[n]) == 0 {
			t.Errorf("the goldens retry %s, which no adapter path produces", n)
		}
	}
	t.Logf("produced: %v", byName)
}

// TestRunnerBoundary: an error a run function returns unclassified (a
// throttled store under FailRun) leaves the runner named.
func TestRunnerBoundary(t *testing.T) {
	dyn, df := fakeDynamo(t)
	r := &runner.Runner{Store: dyn, Env: &activity.Env{}}
	in := json.RawMessage(`{"campaign":"c","bundle":"b","run":{"id":"r1"},"error":{"Error":"X","Cause":"y"}}`)
	df.set(http.StatusBadRequest, dynamoError("ThrottlingException", "Rate exceeded"), jsonHeader)
	_, err := r.Handle(context.Background(), "FailRun", in)
	if n := failure.Name(err); n != "Retryable" {
		t.Errorf("throttled FailRun: %s (%v)", n, err)
	}
	df.clear()
	_, err = r.Handle(context.Background(), "FailRun", in)
	if n := failure.Name(err); n != "InvalidInput" {
		t.Errorf("FailRun of a missing run: %s (%v)", n, err)
	}
}

type deep struct{}

func (*deep) Error() string { return "deep" }

// TestUnnamedErrors: for the errors whose Go type has no plain name, the
// local interpreter names them as aws-lambda-go does (it used to say
// errorString for an unnamed type), and
// the boundary names them all.
func TestUnnamedErrors(t *testing.T) {
	d := &deep{}
	for _, err := range []error{
		errors.New("plain"),
		fmt.Errorf("wrapped: %w", &failure.Retryable{Msg: "x"}),
		fmt.Errorf("two: %w, %w", errors.New("a"), errors.New("b")),
		errors.Join(errors.New("a"), errors.New("b")),
		anon,
		struct{ *deep }{d},
		messages.InvokeResponse_Error{Type: "Custom", Message: "m"},
	} {
		name := failure.Name(err)
		if l := lambdaName(t, err); l != name {
			t.Errorf("%T: aws-lambda-go %q, failure.Name %q", err, l, name)
		}
		if l := localName(t, err); l != name {
			t.Errorf("%T: the interpreter %q, failure.Name %q", err, l, name)
		}
		c := failure.Classify(err)
		if n := failure.Name(c); n != lambdaName(t, c) || n != localName(t, c) || (n != "InvalidInput" && n != "Retryable") {
			t.Errorf("%T classified: %s", err, n)
		}
	}
}
