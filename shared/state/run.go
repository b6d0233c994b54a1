package state

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// RunStatus is the status of a run.
type RunStatus string

// Run statuses. Succeeded, failed and stopped are terminal.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
	RunStopped   RunStatus = "stopped"
	RunSuspended RunStatus = "suspended"
)

// Valid reports whether s is a known status.
func (s RunStatus) Valid() bool {
	switch s {
	case RunRunning, RunSucceeded, RunFailed, RunStopped, RunSuspended:
		return true
	}
	return false
}

// Terminal reports whether a run in status s is over.
func (s RunStatus) Terminal() bool {
	return s == RunSucceeded || s == RunFailed || s == RunStopped
}

// CanRunTransition reports whether a run may move between the statuses: a running or
// suspended run may move to any other status; a failed run may be resumed (running:
// its caller checks that the failure was transient); a terminal run never moves
// otherwise.
func CanRunTransition(from, to RunStatus) bool {
	return (from == RunRunning || from == RunSuspended) && to.Valid() && to != from ||
		from == RunFailed && to == RunRunning
}

// Run is one execution of a published campaign version, or of a draft in test mode.
type Run struct {
	ID         string `json:"id"`
	CampaignID string `json:"campaignId"`
	// Version is the published version the run is pinned to; 0 for a test run of a draft.
	Version int            `json:"version"`
	Params  map[string]any `json:"params,omitempty"`
	Test    bool           `json:"test"`
	Status  RunStatus      `json:"status"`
	Reason  string         `json:"reason,omitempty"`
	// IdempotencyKey, when set, makes StartRun return the run already started with the
	// same key for the same campaign instead of starting another.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Fingerprint identifies the request that started the run (a hash of its canonical
	// body): it is written with the run and its key, in the same write, so that a reused
	// key is told from a retry.
	Fingerprint string    `json:"fingerprint,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	EndedAt     time.Time `json:"endedAt,omitzero"`
}

// NewRunID returns a fresh run id: a UUIDv7, so ids sort by creation time.
func NewRunID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// NewRun checks r and fills defaults for StartRun: id, status running, start time.
func NewRun(r Run) (Run, error) {
	if r.CampaignID == "" {
		return r, fmt.Errorf("%w: run campaign id is empty", ErrInvalid)
	}
	if r.ID == "" {
		r.ID = NewRunID()
	}
	if r.Status == "" {
		r.Status = RunRunning
	}
	if !r.Status.Valid() {
		return r, fmt.Errorf("%w: run status %q", ErrInvalid, r.Status)
	}
	r.StartedAt = Stamp(r.StartedAt)
	if !r.EndedAt.IsZero() {
		r.EndedAt = r.EndedAt.UTC()
	}
	return r, nil
}

// MoveRun applies a status change over the stored cur, checking the expected status
// (ErrConflict) and the transition (ErrInvalid). A terminal status sets EndedAt.
func MoveRun(cur Run, from, to RunStatus, reason string, at time.Time) (Run, error) {
	if !CanRunTransition(from, to) {
		return cur, fmt.Errorf("%w: run transition %s → %s", ErrInvalid, from, to)
	}
	if cur.Status != from {
		return cur, fmt.Errorf("%w: run %s is %s, not %s", ErrConflict, cur.ID, cur.Status, from)
	}
	cur.Status = to
	cur.Reason = reason
	cur.EndedAt = time.Time{}
	if to.Terminal() {
		cur.EndedAt = Stamp(at)
	}
	return cur, nil
}

// TimeKey formats t as a fixed-width UTC string that sorts like the times.
func TimeKey(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000000Z")
}

// TaskStatus is the status of one activity within a run.
type TaskStatus string

// Task statuses. Succeeded, failed and skipped are terminal for an attempt.
const (
	TaskPending   TaskStatus = "pending"
	TaskRunning   TaskStatus = "running"
	TaskSucceeded TaskStatus = "succeeded"
	TaskFailed    TaskStatus = "failed"
	TaskSkipped   TaskStatus = "skipped"
	TaskSuspended TaskStatus = "suspended"
)

// Valid reports whether s is a known status.
func (s TaskStatus) Valid() bool {
	switch s {
	case TaskPending, TaskRunning, TaskSucceeded, TaskFailed, TaskSkipped, TaskSuspended:
		return true
	}
	return false
}

// Terminal reports whether s ends an attempt.
func (s TaskStatus) Terminal() bool {
	return s == TaskSucceeded || s == TaskFailed || s == TaskSkipped
}

// Bounds on task logs, so that a task record stays well under DynamoDB's 400 KB item limit.
const (
	MaxTaskLogLines = 1000
	MaxTaskLogBytes = 128 << 10
	MaxLogLineBytes = 1024
)

// Task is the record of one activity within a run.
type Task struct {
	RunID     string     `json:"runId"`
	Activity  string     `json:"activity"`
	Status    TaskStatus `json:"status"`
	StartedAt time.Time  `json:"startedAt,omitzero"`
	EndedAt   time.Time  `json:"endedAt,omitzero"`
	// Ports counts the rows on each activated port.
	Ports map[string]int64 `json:"ports,omitempty"`
	// Outputs holds the dataset ref written on each port.
	Outputs  map[string]string `json:"outputs,omitempty"`
	Error    string            `json:"error,omitempty"`
	Attempts int               `json:"attempts"`
	// Log holds the newest lines, at most MaxTaskLogLines and MaxTaskLogBytes.
	Log []string `json:"log,omitempty"`
	// LogDropped counts the older lines dropped to keep Log bounded.
	LogDropped int64 `json:"logDropped,omitempty"`
	// Waiting says what a running task waits for, when it is not working.
	Waiting   *TaskWait `json:"waiting,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Reasons a task waits.
const (
	WaitHeld       = "held"        // a channel with confirm: true waits to be confirmed
	WaitQuietHours = "quiet hours" // a channel waits for its send window
)

// TaskWait is what a task waits for: a reason (WaitHeld, WaitQuietHours, or
// the activity type of a wait activity) and, for waits that end by
// themselves, when, with the IANA zone to show it in.
type TaskWait struct {
	Reason string    `json:"reason"`
	Until  time.Time `json:"until,omitzero"`
	Zone   string    `json:"zone,omitempty"`
}

// TaskUpdate is a change to a task, driven by the status it moves to:
//
//   - running from any other status (or a new task) starts an attempt: Attempts+1,
//     StartedAt=At, EndedAt cleared; running → running is a progress update;
//   - succeeded, failed, skipped set EndedAt=At;
//   - pending and suspended change only the status;
//   - no status changes only Waiting (a note on a running task).
//
// Ports and Outputs replace the stored maps when non-nil; Error and Waiting always
// replace (a status change without Waiting ends a wait).
type TaskUpdate struct {
	Status  TaskStatus
	At      time.Time
	Ports   map[string]int64
	Outputs map[string]string
	Error   string
	Waiting *TaskWait
	// Log lines appended with the update, in the same write (see AppendTaskLog).
	Log []string
}

// ApplyTaskUpdate applies u to the stored task (zero Task with RunID and Activity set
// when there is none yet).
func ApplyTaskUpdate(t Task, u TaskUpdate) (Task, error) {
	at := Stamp(u.At)
	if u.Status == "" {
		if t.Status != TaskRunning {
			return t, fmt.Errorf("%w: a wait is noted on a running task; %s/%s is %q", ErrConflict, t.RunID, t.Activity, t.Status)
		}
		t.Waiting, t.UpdatedAt = u.Waiting, at
		return appendLog(t, u), nil
	}
	if !u.Status.Valid() {
		return t, fmt.Errorf("%w: task status %q", ErrInvalid, u.Status)
	}
	if u.Status == TaskRunning && t.Status != TaskRunning {
		t.Attempts++
		t.StartedAt = at
		t.EndedAt = time.Time{}
	}
	if u.Status.Terminal() {
		t.EndedAt = at
	}
	t.Status = u.Status
	if u.Ports != nil {
		t.Ports = u.Ports
	}
	if u.Outputs != nil {
		t.Outputs = u.Outputs
	}
	t.Error = u.Error
	t.Waiting = u.Waiting
	t.UpdatedAt = at
	return appendLog(t, u), nil
}

func appendLog(t Task, u TaskUpdate) Task {
	if len(u.Log) == 0 {
		return t
	}
	return AppendTaskLog(t, u.At, u.Log...)
}

// AppendTaskLog appends lines to the task's log: control characters become spaces, long
// lines are cut at MaxLogLineBytes, and the oldest lines go first when a bound is passed.
// A task not started yet is pending.
func AppendTaskLog(t Task, at time.Time, lines ...string) Task {
	if t.Status == "" {
		t.Status = TaskPending
	}
	for _, l := range lines {
		t.Log = append(t.Log, cleanLine(l))
	}
	size := 0
	for _, l := range t.Log {
		size += len(l)
	}
	drop := 0
	for len(t.Log)-drop > MaxTaskLogLines || size > MaxTaskLogBytes {
		size -= len(t.Log[drop])
		drop++
	}
	if drop > 0 {
		t.Log = append([]string(nil), t.Log[drop:]...)
		t.LogDropped += int64(drop)
	}
	t.UpdatedAt = Stamp(at)
	return t
}

func cleanLine(l string) string {
	l = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(l, "\uFFFD"))
	if len(l) <= MaxLogLineBytes {
		return l
	}
	cut := MaxLogLineBytes - len("…")
	for cut > 0 && !utf8.RuneStart(l[cut]) {
		cut--
	}
	return l[:cut] + "…"
}
