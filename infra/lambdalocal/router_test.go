package lambdalocal_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
)

type Retryable struct{ Msg string }

func (e *Retryable) Error() string { return e.Msg }

// client is an SDK Lambda client of the router, as aws-local-stepfunctions
// and the AWS CLI use it.
func client(url string) *lambda.Client {
	return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), Credentials: aws.AnonymousCredentials{}})
}

func invoke(t *testing.T, c *lambda.Client, name, payload string) *lambda.InvokeOutput {
	t.Helper()
	out, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
	if err != nil {
		t.Fatalf("invoke %s: %v", name, err)
	}
	return out
}

func TestRouterInProcess(t *testing.T) {
	rt := lambdalocal.NewRouter()
	rt.Add("Echo", lambdalocal.BackendFunc(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		if strings.Contains(string(in), "fail") {
			return nil, &Retryable{Msg: "asked to fail"}
		}
		return in, nil
	}))
	srv := httptest.NewServer(rt)
	defer srv.Close()
	c := client(srv.URL)
	// Names, ARNs (with a stack prefix and a qualifier) reach the function.
	for _, name := range []string{"Echo", "arn:aws:lambda:eu-west-1:123456789012:function:stepwise-dev-Echo", "arn:aws:lambda:eu-west-1:123456789012:function:Echo:$LATEST"} {
		out := invoke(t, c, name, `{"a":1}`)
		if out.FunctionError != nil || string(out.Payload) != `{"a":1}` {
			t.Errorf("%s: %v %s", name, out.FunctionError, out.Payload)
		}
	}
	out := invoke(t, c, "Echo", `{"fail":true}`)
	if aws.ToString(out.FunctionError) != "Unhandled" || lambdalocal.ErrorTypeOf(out.Payload) != "Retryable" {
		t.Errorf("error: %v %s", aws.ToString(out.FunctionError), out.Payload)
	}
	_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("Nope")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("unknown function: %v, want ResourceNotFoundException", err)
	}
	if n := len(rt.Invocations()); n != 4 {
		t.Errorf("%d invocations logged, want 4", n)
	}
}

// TestRouterSerializes: RIE crashes on concurrent invokes, so the router
// never overlaps two calls of one function (but does of two functions).
func TestRouterSerializes(t *testing.T) {
	rt := lambdalocal.NewRouter()
	var inA, maxA, inAny, maxAny atomic.Int32
	track := func(in *atomic.Int32, max *atomic.Int32) {
		n := in.Add(1)
		for {
			m := max.Load()
			if n <= m || max.CompareAndSwap(m, n) {
				break
			}
		}
	}
	slow := func(mine *atomic.Int32, maxMine *atomic.Int32) lambdalocal.BackendFunc {
		return func(context.Context, json.RawMessage) (json.RawMessage, error) {
			track(mine, maxMine)
			track(&inAny, &maxAny)
			time.Sleep(20 * time.Millisecond)
			mine.Add(-1)
			inAny.Add(-1)
			return json.RawMessage(`{}`), nil
		}
	}
	var inB, maxB atomic.Int32
	rt.Add("A", slow(&inA, &maxA))
	rt.Add("B", slow(&inB, &maxB))
	srv := httptest.NewServer(rt)
	defer srv.Close()
	c := client(srv.URL)
	var wg sync.WaitGroup
	for i := 0; i < 6; i++ {
		for _, fn := range []string{"A", "B"} {
			wg.Add(1)
			go func(fn string) { defer wg.Done(); invoke(t, c, fn, `{}`) }(fn)
		}
	}
	wg.Wait()
	if maxA.Load() != 1 || maxB.Load() != 1 {
		t.Errorf("concurrent calls of one function: A %d, B %d", maxA.Load(), maxB.Load())
	}
	if maxAny.Load() < 2 {
		t.Errorf("functions did not run side by side (max %d)", maxAny.Load())
	}
}

func TestRouterFaults(t *testing.T) {
	rt := lambdalocal.NewRouter()
	var calls atomic.Int32
	rt.Add("F", lambdalocal.BackendFunc(func(context.Context, json.RawMessage) (json.RawMessage, error) {
		calls.Add(1)
		return json.RawMessage(`"done"`), nil
	}))
	rt.Inject(lambdalocal.Fault{Function: "F"})                                               // first call: fails, not run
	rt.Inject(lambdalocal.Fault{Function: "F", Call: 3, After: true, ErrorType: "Throttled"}) // third: runs, then fails
	srv := httptest.NewServer(rt)
	defer srv.Close()
	c := client(srv.URL)
	var got []string
	for i := 0; i < 4; i++ {
		out := invoke(t, c, "F", `{}`)
		if out.FunctionError != nil {
			got = append(got, lambdalocal.ErrorTypeOf(out.Payload))
		} else {
			got = append(got, string(out.Payload))
		}
	}
	if strings.Join(got, ",") != `Retryable,"done",Throttled,"done"` {
		t.Errorf("outcomes %v", got)
	}
	if calls.Load() != 3 {
		t.Errorf("function ran %d times, want 3", calls.Load())
	}
	injected := 0
	for _, inv := range rt.Invocations() {
		if inv.Injected {
			injected++
		}
	}
	if injected != 2 {
		t.Errorf("%d injected, want 2", injected)
	}
}

func TestIsErrorPayload(t *testing.T) {
	for body, want := range map[string]bool{
		`{"errorMessage":"x","errorType":"Retryable"}`: true,
		`{"errorType":"Runtime.ExitError"}`:            true,
		`{"errorType":"x","status":"succeeded"}`:       false,
		`{"status":"succeeded"}`:                       false,
		`[1]`:                                          false,
		`null`:                                         false,
	} {
		if got := lambdalocal.IsErrorPayload([]byte(body)); got != want {
			t.Errorf("IsErrorPayload(%s) = %v", body, got)
		}
	}
}

// TestRouterAuthorize: an invocation the check refuses fails with the
// Lambda API's AccessDeniedException, naming why, and never reaches the
// function; others go through.
func TestRouterAuthorize(t *testing.T) {
	rt := lambdalocal.NewRouter()
	var calls atomic.Int32
	rt.Add("Echo", lambdalocal.BackendFunc(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		calls.Add(1)
		return in, nil
	}))
	rt.Authorize(func(fn string) error {
		if strings.HasSuffix(fn, ":function:stack-Echo") {
			return nil
		}
		return errors.New("not authorized to perform: lambda:InvokeFunction on resource: " + fn)
	})
	srv := httptest.NewServer(rt)
	defer srv.Close()
	c := client(srv.URL)
	invoke(t, c, "arn:aws:lambda:us-east-1:123456789012:function:stack-Echo", `{}`)
	_, err := c.Invoke(context.Background(), &lambda.InvokeInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:123456789012:function:other-Echo"), Payload: []byte(`{}`)})
	var denied interface{ ErrorCode() string }
	if !errors.As(err, &denied) || denied.ErrorCode() != "AccessDeniedException" || !strings.Contains(err.Error(), "lambda:InvokeFunction") {
		t.Fatalf("refused invocation: %v, want AccessDeniedException naming lambda:InvokeFunction", err)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the function ran %d times, want 1 (the refused call must not reach it)", n)
	}
	inv := rt.Invocations()
	if len(inv) != 2 || inv[1].ErrorType != "AccessDeniedException" {
		t.Errorf("invocations %+v, want the refusal logged", inv)
	}
}
