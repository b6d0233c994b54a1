package state

import (
	"fmt"
	"time"
)

// TableVersion is one committed version of a managed warehouse table.
type TableVersion struct {
	Table   string `json:"table"`
	Version int64  `json:"version"`
	// Ref locates the immutable data of this version (a dataset ref or manifest URI).
	Ref         string    `json:"ref"`
	CommittedAt time.Time `json:"committedAt"`
}

// NextTableVersion checks a commit of ref over the stored current version (Version 0
// when none): it succeeds only when cur.Version == expected.
func NextTableVersion(cur TableVersion, table string, expected int64, ref string, at time.Time) (TableVersion, error) {
	if table == "" || ref == "" {
		return cur, fmt.Errorf("%w: table name and ref are required", ErrInvalid)
	}
	if cur.Version != expected {
		return cur, fmt.Errorf("%w: table %s is at version %d, not %d", ErrConflict, table, cur.Version, expected)
	}
	return TableVersion{Table: table, Version: expected + 1, Ref: ref, CommittedAt: Stamp(at)}, nil
}

// Audience is one saved version of a named audience; the newest is current.
type Audience struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	// Ref locates the dataset of the audience's keys.
	Ref       string `json:"ref"`
	Count     int64  `json:"count"`
	Dimension string `json:"dimension"`
	// RunID is the run that saved it, if any.
	RunID   string    `json:"runId,omitempty"`
	SavedAt time.Time `json:"savedAt"`
}

// NextAudience returns a saved as the version after cur (Version 0 when none).
func NextAudience(cur Audience, a Audience) (Audience, error) {
	if a.Name == "" || a.Ref == "" {
		return a, fmt.Errorf("%w: audience name and ref are required", ErrInvalid)
	}
	a.Version = cur.Version + 1
	a.SavedAt = Stamp(a.SavedAt)
	return a, nil
}

// MaxIncrementalRuns bounds the run history kept per incremental query.
const MaxIncrementalRuns = 100

// Incremental is the state of an incremental query activity of a campaign: the
// high-water mark and where the keys already returned live. The keys themselves are a
// dataset; only its ref is kept here.
type Incremental struct {
	CampaignID string    `json:"campaignId"`
	Activity   string    `json:"activity"`
	HighWater  time.Time `json:"highWater,omitzero"`
	// KeysRef locates the dataset of every key returned so far.
	KeysRef string `json:"keysRef,omitempty"`
	// Runs holds the newest runs, oldest first, at most MaxIncrementalRuns.
	Runs      []IncrementalRun `json:"runs,omitempty"`
	UpdatedAt time.Time        `json:"updatedAt"`
	// Rev is the revision the store holds; 0 when there is no state yet.
	Rev int64 `json:"rev"`
}

// IncrementalRun is one run of an incremental query.
type IncrementalRun struct {
	RunID     string    `json:"runId"`
	At        time.Time `json:"at"`
	HighWater time.Time `json:"highWater,omitzero"`
	KeysRef   string    `json:"keysRef,omitempty"`
	// Count is the number of new keys the run returned.
	Count int64 `json:"count"`
}

// AdvanceIncremental applies run r over the stored cur (zero with the ids set when none),
// which must be at revision expectedRev (ErrConflict otherwise).
func AdvanceIncremental(cur Incremental, expectedRev int64, r IncrementalRun) (Incremental, error) {
	if cur.CampaignID == "" || cur.Activity == "" {
		return cur, fmt.Errorf("%w: incremental campaign id and activity are required", ErrInvalid)
	}
	if cur.Rev != expectedRev {
		return cur, fmt.Errorf("%w: incremental %s/%s is at revision %d, not %d", ErrConflict, cur.CampaignID, cur.Activity, cur.Rev, expectedRev)
	}
	r.At = Stamp(r.At)
	if !r.HighWater.IsZero() {
		r.HighWater = r.HighWater.UTC()
	}
	cur.HighWater = r.HighWater
	cur.KeysRef = r.KeysRef
	cur.Runs = append(cur.Runs, r)
	if n := len(cur.Runs) - MaxIncrementalRuns; n > 0 {
		cur.Runs = append([]IncrementalRun(nil), cur.Runs[n:]...)
	}
	cur.UpdatedAt = r.At
	cur.Rev++
	return cur, nil
}

// ConfirmKey is the key recording that the held send (confirm: true) of an
// activity in a run may go; its value is the confirmation time.
func ConfirmKey(runID, activityID string) string { return "confirm/" + runID + "/" + activityID }

// Key is a generic idempotency key: the first writer stores Value, later writers get it
// back until ExpiresAt.
type Key struct {
	Key       string    `json:"key"`
	Value     string    `json:"value"`
	CreatedAt time.Time `json:"createdAt"`
	// ExpiresAt ends the key's life; zero means never. DynamoDB deletes expired keys
	// within days by TTL; until then, and in the embedded store, they are ignored.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// Live reports whether k still holds at now.
func (k Key) Live(now time.Time) bool {
	return k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt)
}

// FiringStatus tells what the scheduler did with a slot.
type FiringStatus string

// Firing statuses.
const (
	// FiringFired: the slot started (or is starting) a run.
	FiringFired FiringStatus = "fired"
	// FiringExpired: the slot was found too late (past the grace period) and skipped.
	FiringExpired FiringStatus = "expired"
)

// Firing is the scheduler's claim on one slot of a campaign's schedule. A restarted
// scheduler claims each slot it finds due; a slot claimed before is never fired again.
type Firing struct {
	CampaignID string       `json:"campaignId"`
	Slot       time.Time    `json:"slot"`
	Status     FiringStatus `json:"status"`
	// RunID is the run the firing starts; generate it before claiming (NewRunID) and
	// start the run with it, so a crash in between is visible.
	RunID  string    `json:"runId,omitempty"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// NewFiring checks f and fills defaults for ClaimFiring.
func NewFiring(f Firing) (Firing, error) {
	if f.CampaignID == "" || f.Slot.IsZero() {
		return f, fmt.Errorf("%w: firing campaign id and slot are required", ErrInvalid)
	}
	if f.Status == "" {
		f.Status = FiringFired
	}
	if f.Status != FiringFired && f.Status != FiringExpired {
		return f, fmt.Errorf("%w: firing status %q", ErrInvalid, f.Status)
	}
	f.Slot = f.Slot.UTC()
	f.At = Stamp(f.At)
	return f, nil
}
