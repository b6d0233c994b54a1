// Package lambdalocal runs Stepwise's Lambda functions on one machine the
// way AWS runs them: each bootstrap under the AWS Lambda Runtime Interface
// Emulator (RIE), behind a router that serves the Lambda Invoke API, so that
// SDK clients (aws-local-stepfunctions, the AWS CLI) reach them through
// AWS_ENDPOINT_URL_LAMBDA. It also builds the bootstraps, fakes SESv2, starts
// DynamoDB Local and runs ASL with aws-local-stepfunctions. Used by the
// infra/awsshape test and by `make dev` (infra/devstack).
package lambdalocal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/asl/interp"
)

// Response is the outcome of one invocation, as the Lambda API returns it.
type Response struct {
	Payload []byte
	// FunctionError is "Unhandled" when Payload is an error
	// ({"errorType","errorMessage"}), else "".
	FunctionError string
}

// Backend runs a function's invocations.
type Backend interface {
	Invoke(ctx context.Context, payload []byte) (Response, error)
}

// BackendFunc adapts an in-process handler (e.g. lambdafn's Function.Invoke)
// to Backend; an error becomes an Unhandled function error named by its type.
type BackendFunc func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error)

// Invoke implements Backend.
func (f BackendFunc) Invoke(ctx context.Context, payload []byte) (Response, error) {
	out, err := f(ctx, payload)
	if err != nil {
		return ErrorResponse(interp.ErrorName(err), err.Error()), nil
	}
	if len(bytes.TrimSpace(out)) == 0 {
		out = []byte("null")
	}
	return Response{Payload: out}, nil
}

// ErrorResponse is the response of a failed Go function.
func ErrorResponse(typ, msg string) Response {
	b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
	return Response{Payload: b, FunctionError: "Unhandled"}
}

// IsErrorPayload reports whether body is a Lambda error document: a JSON
// object with an errorType and nothing but errorType, errorMessage and
// stackTrace. RIE returns errors with status 200 and no
// X-Amz-Function-Error header; this is how the router recognizes them.
func IsErrorPayload(body []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	if _, ok := m["errorType"]; !ok {
		return false
	}
	for k := range m {
		switch k {
		case "errorType", "errorMessage", "stackTrace":
		default:
			return false
		}
	}
	return true
}

// ErrorTypeOf returns the errorType of an error payload.
func ErrorTypeOf(body []byte) string {
	typ, _ := errorOf(body)
	return typ
}

// errorOf returns the errorType and errorMessage of an error payload.
func errorOf(body []byte) (typ, msg string) {
	var e struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	json.Unmarshal(body, &e)
	return e.ErrorType, e.ErrorMessage
}

func cut(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// Fault is an injected failure: the Nth invocation (1-based; 0 means the
// first) of Function answers with a function error of ErrorType.
type Fault struct {
	Function  string
	Call      int
	ErrorType string // default "Retryable"
	Message   string
	// After runs the invocation first and then reports the failure: the
	// work is done but its result is lost, as when a Lambda times out
	// after writing. Otherwise the function is not invoked.
	After bool
}

// Invocation is one call the router served.
type Invocation struct {
	Function  string
	Start     time.Time
	Duration  time.Duration
	CPU       time.Duration // CPU time used, for backends that report it (RIE)
	ErrorType string        // "" on success
	Message   string        // the error's message, cut to 300 bytes
	Injected  bool          // the error was a Fault
}

// Router serves POST /2015-03-31/functions/{name}/invocations for the
// functions added to it, one invocation at a time per function.
type Router struct {
	mu     sync.Mutex
	fns    map[string]*route
	faults []Fault
	calls  map[string]int
	log    []Invocation
	auth   func(function string) error
}

// Authorize makes the router refuse an invocation, with the Lambda API's
// AccessDeniedException (403), when check returns an error for the name or
// ARN the caller sent (as the caller's lambda:InvokeFunction permission
// would on AWS).
func (rt *Router) Authorize(check func(function string) error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.auth = check
}

type route struct {
	mu sync.Mutex
	b  Backend
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{fns: map[string]*route{}, calls: map[string]int{}}
}

// Add serves a function under name.
func (rt *Router) Add(name string, b Backend) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.fns[name] = &route{b: b}
}

// Inject arms a fault; each fires once.
func (rt *Router) Inject(f Fault) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if f.Call == 0 {
		f.Call = 1
	}
	if f.ErrorType == "" {
		f.ErrorType = "Retryable"
	}
	if f.Message == "" {
		f.Message = "injected failure"
	}
	rt.faults = append(rt.faults, f)
}

// Invocations returns the calls served so far, in order of completion.
func (rt *Router) Invocations() []Invocation {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]Invocation(nil), rt.log...)
}

// Reset forgets the call log and counts (armed faults stay).
func (rt *Router) Reset() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.log, rt.calls = nil, map[string]int{}
}

// FunctionName extracts the function name from what a client sends: a name,
// a full or partial ARN, with or without a qualifier.
func FunctionName(s string) string {
	if i := strings.Index(s, "function:"); i >= 0 {
		s = s[i+len("function:"):]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return s
}

// lookup finds a route by name, or by the part after the last '-' (a
// deployed name like stepwise-dev-BuildAudience).
func (rt *Router) lookup(name string) (*route, string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if r, ok := rt.fns[name]; ok {
		return r, name
	}
	if i := strings.LastIndexByte(name, '-'); i >= 0 {
		if r, ok := rt.fns[name[i+1:]]; ok {
			return r, name[i+1:]
		}
	}
	return nil, name
}

// fault returns the fault due for this call of fn, if any.
func (rt *Router) fault(fn string) (*Fault, int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.calls[fn]++
	n := rt.calls[fn]
	for i, f := range rt.faults {
		if f.Function == fn && f.Call == n {
			rt.faults = append(rt.faults[:i], rt.faults[i+1:]...)
			return &f, n
		}
	}
	return nil, n
}

func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	const prefix, suffix = "/2015-03-31/functions/", "/invocations"
	p := r.URL.EscapedPath()
	if r.Method != http.MethodPost || !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, suffix) {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "unknown operation "+r.Method+" "+p)
		return
	}
	raw, err := url.PathUnescape(strings.TrimSuffix(strings.TrimPrefix(p, prefix), suffix))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "bad function name")
		return
	}
	rt.mu.Lock()
	auth := rt.auth
	rt.mu.Unlock()
	if auth != nil {
		if err := auth(raw); err != nil {
			rt.record(Invocation{Function: FunctionName(raw), Start: time.Now(), ErrorType: "AccessDeniedException"})
			apiError(w, http.StatusForbidden, "AccessDeniedException", err.Error())
			return
		}
	}
	fn, name := rt.lookup(FunctionName(raw))
	if fn == nil {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+raw)
		return
	}
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	// One invocation at a time per function: RIE crashes on concurrent ones.
	fn.mu.Lock()
	cpu, _ := fn.b.(interface{ CPUTime() time.Duration })
	var cpu0 time.Duration
	if cpu != nil {
		cpu0 = cpu.CPUTime()
	}
	start := time.Now()
	f, _ := rt.fault(name)
	var res Response
	switch {
	case f != nil && !f.After:
		res = ErrorResponse(f.ErrorType, f.Message)
	default:
		res, err = fn.b.Invoke(r.Context(), payload)
		if err == nil && f != nil {
			res = ErrorResponse(f.ErrorType, f.Message)
		}
	}
	inv := Invocation{Function: name, Start: start, Duration: time.Since(start), Injected: f != nil}
	if cpu != nil {
		inv.CPU = cpu.CPUTime() - cpu0
	}
	fn.mu.Unlock()
	if err != nil {
		inv.ErrorType, inv.Message = "Lambda.ServiceException", cut(err.Error())
		rt.record(inv)
		apiError(w, http.StatusBadGateway, "ServiceException", err.Error())
		return
	}
	if res.FunctionError != "" {
		typ, msg := errorOf(res.Payload)
		inv.ErrorType, inv.Message = typ, cut(msg)
	}
	rt.record(inv)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if res.FunctionError != "" {
		w.Header().Set("X-Amz-Function-Error", res.FunctionError)
	}
	w.Write(res.Payload)
}

func (rt *Router) record(inv Invocation) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.log = append(rt.log, inv)
}

// apiError answers like the Lambda API does for a request error.
func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"Type":"User","message":%q}`, msg)
}
