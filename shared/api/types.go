package api

import (
	"encoding/json"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ErrorBody is every error response.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error is a failure with a stable code, a message for people and, when a field of the
// request is to blame, its JSON path.
type Error struct {
	Code    string `json:"code" jsonschema:"description=stable machine-readable code"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty" jsonschema:"description=JSON path of the offending field, such as $.params.region"`
	// Details lists every problem when there are several (diagnostics, parameters).
	Details []Detail `json:"details,omitempty"`
	status  int
	cause   error // logged, never sent
	// retryAfter, in seconds, is sent as Retry-After when positive.
	retryAfter int
}

// Detail is one problem of a request.
type Detail struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

// CampaignInput is the body of create and update: the campaign document as YAML or JSON
// text in source, or as a JSON object in campaign (exactly one).
type CampaignInput struct {
	Source   string          `json:"source,omitempty" jsonschema:"description=the campaign document (YAML or JSON text) as in a campaign file"`
	Campaign json.RawMessage `json:"campaign,omitempty" jsonschema:"type=object,description=the campaign document as a JSON object"`
	// Rev, on update, must be the revision read (optimistic concurrency); 0 skips the check.
	Rev int64 `json:"rev,omitempty"`
}

// CampaignView is a campaign as the API shows it.
type CampaignView struct {
	ID               string          `json:"id"`
	Name             string          `json:"name,omitempty"`
	Status           string          `json:"status" jsonschema:"enum=draft,enum=scheduled,enum=live,enum=completed,enum=stopped,enum=closed,enum=archived"`
	PublishedVersion int             `json:"publishedVersion,omitempty"`
	Schedule         *state.Schedule `json:"schedule,omitempty"`
	Rev              int64           `json:"rev"`
	CreatedAt        time.Time       `json:"createdAt"`
	UpdatedAt        time.Time       `json:"updatedAt"`
	// Source is the draft document (on get, create and update).
	Source string `json:"source,omitempty"`
	// Valid and Diagnostics report the validation of the draft (on create and update).
	Valid       *bool        `json:"valid,omitempty"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	// Actions lists the lifecycle actions the campaign's status allows now.
	Actions []string `json:"actions"`
	// Upcoming lists the next launches of a scheduled or live campaign's
	// schedule (at most 3), in UTC.
	Upcoming []time.Time `json:"upcoming,omitempty"`
}

// CampaignList is the answer of the campaign list.
type CampaignList struct {
	Campaigns []CampaignView `json:"campaigns"`
}

// Diagnostic is one validation problem: where, and the line the CLI prints.
type Diagnostic struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	Path     string `json:"path" jsonschema:"description=path in the campaign document, such as activities[2].where.field"`
	Severity string `json:"severity" jsonschema:"enum=error,enum=warning"`
	Message  string `json:"message"`
	// Text is the diagnostic exactly as `stepwise validate` prints it.
	Text string `json:"text"`
}

// ValidateResult is the answer of validate.
type ValidateResult struct {
	Valid       bool         `json:"valid"`
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Output is what `stepwise validate` prints: one diagnostic a line, then
	// for a valid campaign `FILE: valid (N activities)`.
	Output string `json:"output"`
}

// DuplicateInput is the body of duplicate.
type DuplicateInput struct {
	// ID of the new draft; default <id>-copy.
	ID string `json:"id,omitempty" jsonschema:"pattern=^[a-z0-9-]{1\\,64}$"`
}

// RunInput is the body of trigger and test-run.
type RunInput struct {
	Params map[string]any `json:"params,omitempty" jsonschema:"description=run parameters; checked against the campaign's declarations"`
}

// RunView is a run with, in detail, its activities and transition counts.
type RunView struct {
	ID         string         `json:"id"`
	CampaignID string         `json:"campaignId"`
	Version    int            `json:"version" jsonschema:"description=the published version the run is pinned to; 0 for a test run of a draft"`
	Test       bool           `json:"test"`
	Status     string         `json:"status" jsonschema:"enum=running,enum=succeeded,enum=failed,enum=stopped,enum=suspended"`
	Reason     string         `json:"reason,omitempty"`
	Params     map[string]any `json:"params,omitempty"`
	StartedAt  time.Time      `json:"startedAt"`
	EndedAt    *time.Time     `json:"endedAt,omitempty"`
	// Replayed is true when an Idempotency-Key matched an earlier trigger.
	Replayed    bool           `json:"replayed,omitempty"`
	Activities  []ActivityView `json:"activities,omitempty"`
	Transitions []Transition   `json:"transitions,omitempty"`
}

// ActivityView is one activity of a run.
type ActivityView struct {
	ID        string           `json:"id"`
	Type      string           `json:"type,omitempty"`
	Status    string           `json:"status" jsonschema:"enum=not_started,enum=pending,enum=running,enum=succeeded,enum=failed,enum=skipped,enum=suspended"`
	Ports     map[string]int64 `json:"ports,omitempty" jsonschema:"description=row count of every activated port"`
	Attempts  int              `json:"attempts,omitempty"`
	Error     string           `json:"error,omitempty"`
	StartedAt *time.Time       `json:"startedAt,omitempty"`
	EndedAt   *time.Time       `json:"endedAt,omitempty"`
	// Waiting says what a running activity waits for.
	Waiting *WaitView `json:"waiting,omitempty"`
}

// WaitView is what a running activity waits for: held (confirm it), quiet
// hours or a wait activity (until a time, in the campaign's zone).
type WaitView struct {
	Reason string     `json:"reason" jsonschema:"description=held (confirm the activity to send) or quiet hours or the type of a wait activity"`
	Until  *time.Time `json:"until,omitempty"`
	Zone   string     `json:"zone,omitempty" jsonschema:"description=IANA time zone to show until in"`
}

// Transition is an output port and where it leads, with its row count once activated.
type Transition struct {
	From      string   `json:"from"`
	Port      string   `json:"port"`
	To        []string `json:"to"`
	Activated bool     `json:"activated"`
	Count     *int64   `json:"count,omitempty"`
}

// RunList is a page of runs.
type RunList struct {
	Runs []RunView `json:"runs"`
	// Next is the cursor of the next page (after=…), empty at the end.
	Next string `json:"next,omitempty"`
}

// Preview is the first rows of a transition.
type Preview struct {
	Columns []PreviewColumn `json:"columns"`
	Rows    [][]any         `json:"rows"`
	Total   int64           `json:"total" jsonschema:"description=row count of the whole transition"`
}

// PreviewColumn is a column of a preview.
type PreviewColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// LogView is the log of a run, per activity.
type LogView struct {
	RunID      string        `json:"runId"`
	Activities []ActivityLog `json:"activities"`
}

// ActivityLog is the log of one activity (newest lines; Dropped older ones are gone).
type ActivityLog struct {
	Activity string   `json:"activity"`
	Status   string   `json:"status"`
	Lines    []string `json:"lines"`
	Dropped  int64    `json:"dropped,omitempty"`
}

// Confirmation records that a held send may go.
type Confirmation struct {
	RunID       string    `json:"runId"`
	Activity    string    `json:"activity"`
	Key         string    `json:"key" jsonschema:"description=the state store key the channel reads: confirm/<run>/<activity>"`
	ConfirmedAt time.Time `json:"confirmedAt"`
}

// AudienceList lists saved audiences (current versions).
type AudienceList struct {
	Audiences []state.Audience `json:"audiences"`
}

// VersionList lists a campaign's published versions, newest first (without documents).
type VersionList struct {
	Versions []VersionView `json:"versions"`
}

// VersionView is a published version.
type VersionView struct {
	Number    int       `json:"number"`
	ASLHash   string    `json:"aslHash,omitempty"`
	ASLRef    string    `json:"aslRef,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Source is the published document (on get of one version).
	Source string `json:"source,omitempty"`
}

// UploadInput asks where to upload a file for load-file.
type UploadInput struct {
	Name string `json:"name" jsonschema:"required,description=file name such as leads.csv"`
}

// Upload tells how to send a file and how load-file names it.
type Upload struct {
	// File is what to pass to load-file (a local path, or an s3:// URI).
	File   string `json:"file"`
	URL    string `json:"url" jsonschema:"description=where to send the bytes"`
	Method string `json:"method" jsonschema:"enum=PUT"`
	// Headers must accompany the upload request.
	Headers   map[string]string `json:"headers,omitempty"`
	ExpiresAt *time.Time        `json:"expiresAt,omitempty"`
}

// diagnostic converts a campaign diagnostic.
func diagnostic(d campaign.Diagnostic) Diagnostic {
	sev := string(d.Severity)
	if sev == "" {
		sev = string(campaign.Error)
	}
	return Diagnostic{File: d.Pos.File, Line: d.Pos.Line, Col: d.Pos.Col, Path: d.Path, Severity: sev, Message: d.Message, Text: d.String()}
}
