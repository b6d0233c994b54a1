package activity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Request is the payload of every activity Task state: references and counts,
// never rows (Step Functions caps payloads at 256 KiB).
type Request struct {
	Campaign string  `json:"campaign"`
	Plan     string  `json:"plan"` // digest of the campaign's runtime plan
	Activity string  `json:"activity"`
	Run      RunInfo `json:"run"`
	Inputs   []Input `json:"inputs,omitempty"`
	// Phase selects a step of a fanned-out type (channels: plan, send, finish).
	Phase string `json:"phase,omitempty"`
	// Slice is the Map item a send phase works on.
	Slice *Slice `json:"slice,omitempty"`
	// Parts are the results of the Map iterations, for the finish phase.
	Parts []json.RawMessage `json:"parts,omitempty"`
	// Finish, on a first phase, lets it do the whole task when it can and
	// say so (Extra ExtraFinished): the machine goes past the later phases
	// then. A machine compiled before it never sets it.
	Finish bool `json:"finish,omitempty"`
	// List, on a channel's plan, lets it list its slices in the run store
	// (Extra "sliceList") instead of returning them, for a distributed Map
	// to read. A machine compiled before it never sets it.
	List bool `json:"list,omitempty"`
}

// RunInfo is the run context computed once by the start task.
type RunInfo struct {
	ID       string         `json:"id"`
	Test     bool           `json:"test"`
	Params   map[string]any `json:"params,omitempty"`
	Now      string         `json:"now"` // RFC 3339, the run's reference instant
	Timezone string         `json:"timezone,omitempty"`
	Weekday  string         `json:"weekday"` // mon..sun in the campaign time zone
	Hour     int            `json:"hour"`    // 0..23 in the campaign time zone
}

// NowTime parses Now.
func (r RunInfo) NowTime() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.Now)
	return t
}

// Input is one inbound transition: the dataset on it (nil when the port was
// not activated) and its row count.
type Input struct {
	From  string  `json:"from"`
	Port  string  `json:"port"`
	Ref   *string `json:"ref"`
	Count int64   `json:"count"`
}

// Active reports whether the inbound port was activated.
func (in Input) Active() bool { return in.Ref != nil }

// Slice is one part of a population processed by one Map iteration.
type Slice struct {
	Ref    string `json:"ref"`
	Index  int    `json:"index"`
	Offset int64  `json:"offset"`
	Count  int64  `json:"count"`
}

// Result is what every activity leaves at its result path. Every declared port
// is present in Ports (null when not activated) and in Counts, so that Choice
// states can read them without missing paths.
type Result struct {
	Status string             `json:"status"`
	Ports  map[string]*string `json:"ports"`
	Counts map[string]int64   `json:"counts"`
	Slices []Slice            `json:"slices,omitzero"` // a channel plan's, [] when it has none
	// Extra carries small type-specific facts (e.g. a channel's hold state,
	// ExtraHeld).
	Extra map[string]any `json:"extra,omitempty"`
}

// Statuses of an activity result.
const (
	StatusSucceeded = "succeeded"
	StatusSkipped   = "skipped"
	StatusFailed    = "failed"
)

// NewResult returns a succeeded result with every port present and inactive.
func NewResult(ports []string) *Result {
	r := &Result{Status: StatusSucceeded, Ports: map[string]*string{}, Counts: map[string]int64{}}
	for _, p := range ports {
		r.Ports[p] = nil
		r.Counts[p] = 0
	}
	return r
}

// Set activates a port with a dataset and its count.
func (r *Result) Set(port, ref string, count int64) {
	r.Ports[port] = &ref
	r.Counts[port] = count
}

// Call is one invocation of an activity's task.
type Call struct {
	Env *Env
	Req *Request
	// Plan is the campaign's runtime plan, loaded and checked.
	Plan *Compiled
	// Activity is the activity the request names, its config decoded.
	Activity *campaign.Activity
	// Log receives the task's log lines (nil: none).
	Log TaskLogger
}

// TaskLogger appends lines to a run's task log (the state store).
type TaskLogger interface {
	AppendTaskLog(ctx context.Context, runID, activity string, at time.Time, lines ...string) error
}

// Logf appends a line to the task's log; logging never fails a task.
func (c *Call) Logf(ctx context.Context, format string, args ...any) {
	if c.Log != nil {
		c.Log.AppendTaskLog(ctx, c.Req.Run.ID, c.Req.Activity, c.Env.Now(), fmt.Sprintf(format, args...))
	}
}

// ExtraHeld is the Result.Extra key of a channel's hold: true while a send
// waits to be confirmed.
const ExtraHeld = "held"

// ExtraFinished is the Result.Extra key, true when present, of a first phase
// that did the whole task (a channel plan of one slice or none sent it and
// finished): the task ends there.
const ExtraFinished = "finished"
