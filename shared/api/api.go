// Package api is the marketers' HTTP API: campaigns and their lifecycle, runs, previews,
// logs, uploads and the one-click unsubscribe endpoint. The same handlers serve
// `stepwise serve` locally and, wrapped by functions/api, API Gateway on AWS. The
// package holds no AWS types: platforms plug in through the small interfaces below.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Store is the part of the state store the API uses.
type Store interface {
	state.Campaigns
	state.Runs
	state.Audiences
	state.Keys
	state.Suppressions
}

// Sources provides what campaigns compile against: the catalog, and the template files
// that `file:` keys name.
type Sources interface {
	// Catalog returns the catalog's path (relative paths in it resolve against its
	// folder) and its bytes.
	Catalog(ctx context.Context) (path string, data []byte, err error)
	// File returns a template file by its name relative to the campaign.
	File(ctx context.Context, name string) ([]byte, error)
}

// Bundles stores compiled bundles and their plans where task handlers load them (compile.Publisher).
type Bundles interface {
	Publish(ctx context.Context, campaignID string, b *compile.Bundle) error
}

// Executor starts and stops runs on the platform.
type Executor interface {
	// Start executes a recorded run asynchronously: a test run of the draft program p
	// (v nil), or a run of the published version v.
	Start(ctx context.Context, run state.Run, v *state.Version, p *compile.Program) error
	// Stop interrupts a run; the API has already recorded it stopped.
	Stop(ctx context.Context, run state.Run) error
}

// Restarter continues a run that no execution carries any more: its process
// was killed, or it failed for a transient reason (the local backend). A run
// with a live execution is left to it. Step Functions cannot start an
// execution again under a run's name, so the AWS executor has none.
type Restarter interface {
	Restart(ctx context.Context, run state.Run) error
}

// Deployer makes a published version runnable and keeps its schedule (AWS: a state
// machine version behind an alias, and an EventBridge Scheduler schedule). Local mode
// has none: the bundle is the program and the local scheduler reads the store.
type Deployer interface {
	Deploy(ctx context.Context, d Deployment) (Deployed, error)
	// Unschedule removes the campaign's schedule, if any; runs in flight go on.
	Unschedule(ctx context.Context, campaignID string) error
}

// Deployment is a version to deploy.
type Deployment struct {
	CampaignID string
	Version    int
	// ASL is the compiled state machine definition.
	ASL []byte
	// Schedule, when not nil, starts runs of this version by time.
	Schedule *state.Schedule
}

// Deployed locates what Deploy made.
type Deployed struct {
	// ASLRef is recorded as the version's ASLRef and handed back to Executor.Start.
	ASLRef string
	// ScheduleRef names the schedule, recorded in the campaign's Schedule.Ref.
	ScheduleRef string
}

// Previewer reads a page of a dataset (a transition's population): limit rows
// from row offset, without reading the others.
type Previewer interface {
	Preview(ctx context.Context, ref string, offset int64, limit int) (*Preview, error)
}

// FeedbackRecorder keeps message feedback records: on AWS it hands them to the
// feedback queue (the Feedback function appends them in batches), locally it appends
// them to message_feedback.
type FeedbackRecorder interface {
	RecordFeedback(ctx context.Context, recs ...feedback.Record) error
}

// Uploads tells clients where to upload files for load-file.
type Uploads interface {
	NewUpload(ctx context.Context, name string) (Upload, error)
}

// Receiver is an Uploads that receives the bytes itself (local mode), through
// PUT /v1/uploads/{id}/{name}.
type Receiver interface {
	Receive(ctx context.Context, id, name string, body io.Reader) (Upload, error)
}

// Options configure the API.
type Options struct {
	Store   Store
	Sources Sources
	// Schemas reads the columns of catalog table sources that declare none
	// (nil: only declared columns).
	Schemas  campaign.SchemaReader
	Bundles  Bundles
	Executor Executor
	// Deployer is nil locally.
	Deployer  Deployer
	Previewer Previewer
	// Renderer renders proofs again from a run's send plan (the API
	// function on AWS); nil: the Executor's, if it is one (local).
	Renderer RunProofRenderer
	Uploads  Uploads
	// Authorize admits requests to every route but unsubscribe: BearerToken locally;
	// TrustGateway behind an API Gateway authorizer. Nil refuses them all.
	Authorize func(*http.Request) bool
	// UnsubscribeSecret verifies unsubscribe tokens (see package unsubscribe).
	UnsubscribeSecret []byte
	// UnsubscribePrevious is the secret's value before its last rotation
	// (empty: none): links in messages sent before it keep working.
	UnsubscribePrevious []byte
	// Feedback keeps the message_feedback record of each one-click unsubscribe; nil
	// keeps none (the address is suppressed either way).
	Feedback FeedbackRecorder
	// TriggerInterval is the least time between two triggers of one campaign (429 with
	// Retry-After otherwise). Zero: DefaultTriggerInterval; negative: no limit.
	TriggerInterval time.Duration
	// MaxBody caps JSON request bodies (413 beyond); default 2 MiB, room for a campaign
	// document of MaxCampaignBytes escaped in JSON.
	MaxBody int64
	// MaxUpload caps uploads received locally; default 50 MiB.
	MaxUpload int64
	// MaxWait caps ?wait= on trigger and test-run; default 60 s.
	MaxWait time.Duration
	// RequestTimeout bounds each request but uploads: its context is cancelled and the
	// client answered 503 deadline_exceeded then; default MaxWait + 30 s (keep it above
	// MaxWait, or ?wait= answers the timeout).
	RequestTimeout time.Duration
	Logger         *slog.Logger
	Now            func() time.Time
}

// Defaults.
const (
	DefaultTriggerInterval = time.Minute
	DefaultMaxBody         = 2 << 20
	DefaultMaxUpload       = 50 << 20
	DefaultMaxWait         = 60 * time.Second
	// MaxCampaignBytes bounds a campaign document (413 beyond).
	MaxCampaignBytes = 1 << 20
)

// Server serves the API.
type Server struct {
	o        Options
	mux      *http.ServeMux
	registry *activity.Registry
	checkers compile.Checkers
	graphs   graphCache
}

// New returns the API handler.
func New(o Options) http.Handler { return NewServer(o) }

// NewServer returns the API server (an http.Handler that also fires scheduled runs).
func NewServer(o Options) *Server {
	if o.TriggerInterval == 0 {
		o.TriggerInterval = DefaultTriggerInterval
	}
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.MaxUpload <= 0 {
		o.MaxUpload = DefaultMaxUpload
	}
	if o.MaxWait <= 0 {
		o.MaxWait = DefaultMaxWait
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = o.MaxWait + 30*time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Authorize == nil {
		o.Authorize = func(*http.Request) bool { return false }
	}
	s := &Server{o: o, mux: http.NewServeMux(), registry: builtin.Registry(), checkers: builtin.Checkers()}
	byPath := map[string][]route{}
	var paths []string
	for _, rt := range s.routes() {
		if _, ok := byPath[rt.path]; !ok {
			paths = append(paths, rt.path)
		}
		byPath[rt.path] = append(byPath[rt.path], rt)
	}
	for _, p := range paths {
		s.mux.Handle(p, s.dispatch(byPath[p]))
	}
	s.mux.Handle("/", s.wrap(route{pattern: "unknown", public: true, h: func(w http.ResponseWriter, r *http.Request) *Error {
		return fail(http.StatusNotFound, codeNotFound, "no route %s %s", r.Method, r.URL.Path)
	}}))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// handler is a route handler; a non-nil error is written as the response.
type handler func(w http.ResponseWriter, r *http.Request) *Error

// dispatch picks the route of a path by method, answering 405 for the others.
func (s *Server) dispatch(rts []route) http.Handler {
	byMethod := map[string]http.Handler{}
	var allow []string
	for _, rt := range rts {
		byMethod[rt.method] = s.wrap(rt)
		allow = append(allow, rt.method)
	}
	notAllowed := s.wrap(route{pattern: "method not allowed", public: true, h: func(w http.ResponseWriter, r *http.Request) *Error {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return fail(http.StatusMethodNotAllowed, codeMethod, "%s is not allowed here; allowed: %s", r.Method, strings.Join(allow, ", "))
	}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := byMethod[r.Method]; ok {
			h.ServeHTTP(w, r)
			return
		}
		if h, ok := byMethod[http.MethodGet]; ok && r.Method == http.MethodHead {
			h.ServeHTTP(w, r)
			return
		}
		notAllowed.ServeHTTP(w, r)
	})
}

// statusWriter remembers the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// wrap adds to a route: authorization, the body cap, the deadline, panic recovery,
// JSON errors and an access log line naming the route pattern, never the URL
// (unsubscribe tokens hold addresses) nor bodies.
func (s *Server) wrap(rt route) http.Handler {
	// serve runs the handler and writes its error; it may run on the deadline's goroutine.
	serve := func(w http.ResponseWriter, r *http.Request) {
		if e := rt.h(w, r); e != nil {
			if e.cause != nil {
				s.o.Logger.Error("request failed", "route", rt.pattern, "error", e.cause.Error())
			}
			writeError(w, e)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.o.Logger.Error("panic", "route", rt.pattern, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				writeError(sw, fail(http.StatusInternalServerError, codeInternal, "internal error"))
			}
			s.o.Logger.Info("request", "route", rt.pattern, "status", sw.status, "ms", float64(time.Since(start).Microseconds())/1000)
		}()
		sw.Header().Set("Cache-Control", "no-store")
		sw.Header().Set("X-Content-Type-Options", "nosniff")
		if !rt.public && !s.o.Authorize(r) {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="stepwise"`)
			writeError(sw, fail(http.StatusUnauthorized, codeUnauthorized, "missing or invalid bearer token"))
			return
		}
		if rt.upload { // bounded by size; a slow link is no computation
			r.Body = http.MaxBytesReader(sw, r.Body, s.o.MaxUpload)
			serve(sw, r)
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, s.o.MaxBody)
		sw.Header().Set("Content-Type", "application/json") // the timeout's answer; handlers set their own
		http.TimeoutHandler(http.HandlerFunc(serve), s.o.RequestTimeout, s.timeoutBody()).ServeHTTP(sw, r)
	})
}

// timeoutBody is the JSON answer to a request cancelled at its deadline.
func (s *Server) timeoutBody() string {
	data, _ := json.Marshal(ErrorBody{Error: Error{Code: codeDeadline,
		Message: fmt.Sprintf("the request took longer than %s and was cancelled; retry later, or send less", s.o.RequestTimeout)}})
	return string(data)
}

// BearerToken admits requests carrying `Authorization: Bearer <token>`, compared in
// constant time. An empty token admits nothing.
func BearerToken(token string) func(*http.Request) bool {
	want := sha256.Sum256([]byte(token))
	return func(r *http.Request) bool {
		if token == "" {
			return false
		}
		h := r.Header.Get("Authorization")
		scheme, got, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
	}
}

// TrustGateway admits every request: use it only behind an API Gateway route whose
// IAM or JWT authorizer has already refused the rest.
func TrustGateway(*http.Request) bool { return true }

// DirSources reads the catalog and template files from a folder.
type DirSources struct {
	// Dir is where template file names resolve.
	Dir string
	// CatalogFile is the catalog; default Dir/catalog.yaml.
	CatalogFile string
}

// Folder is where API campaigns live on this machine: a load-file path
// resolves, and is confined, here.
func (d DirSources) Folder() string { return d.Dir }

// Catalog implements Sources.
func (d DirSources) Catalog(ctx context.Context) (string, []byte, error) {
	f := d.CatalogFile
	if f == "" {
		f = filepath.Join(d.Dir, "catalog.yaml")
	}
	data, err := os.ReadFile(f)
	return f, data, err
}

// File implements Sources.
func (d DirSources) File(ctx context.Context, name string) ([]byte, error) {
	if !filepath.IsLocal(filepath.FromSlash(name)) {
		return nil, fmt.Errorf("%q is outside the folders files may be read from: the campaign folder", name)
	}
	// Confined: no symlink out of Dir, nothing in a Stepwise home.
	data, err := fileroot.Roots{}.With(d.Dir).ReadFile(d.Dir, filepath.FromSlash(name))
	var outside *fileroot.OutsideError
	if errors.As(err, &outside) {
		return nil, fmt.Errorf("%q is outside the folders files may be read from: the campaign folder", name)
	}
	if err != nil {
		return nil, fmt.Errorf("no template file %q", name)
	}
	return data, nil
}

// graphCache keeps parsed campaign graphs of immutable versions.
type graphCache struct {
	mu sync.Mutex
	m  map[string]*graph
}

func (c *graphCache) get(key string) (*graph, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g, ok := c.m[key]
	return g, ok
}

func (c *graphCache) put(key string, g *graph) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 1000 {
		c.m = map[string]*graph{}
	}
	c.m[key] = g
}
