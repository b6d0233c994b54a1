package state

import (
	"fmt"
	"slices"
	"time"
)

// CampaignStatus is where a campaign is in its lifecycle.
type CampaignStatus string

// Campaign lifecycle: draft → (publish) → scheduled | live → completed | stopped,
// live (recurring) → closed, any but draft → archived.
const (
	CampaignDraft     CampaignStatus = "draft"
	CampaignScheduled CampaignStatus = "scheduled"
	CampaignLive      CampaignStatus = "live"
	CampaignCompleted CampaignStatus = "completed"
	CampaignStopped   CampaignStatus = "stopped"
	CampaignClosed    CampaignStatus = "closed"
	CampaignArchived  CampaignStatus = "archived"
)

// Valid reports whether s is a known status.
func (s CampaignStatus) Valid() bool {
	switch s {
	case CampaignDraft, CampaignScheduled, CampaignLive, CampaignCompleted,
		CampaignStopped, CampaignClosed, CampaignArchived:
		return true
	}
	return false
}

// Move is one row of the campaign lifecycle: an action callers take (an API operation)
// or an event the system makes, the statuses it is allowed from and those it leads to.
type Move struct {
	Action string
	// Event: not an API action; the system makes it (a run starts, the schedule ends),
	// or only the state store offers it.
	Event bool
	// From lists the statuses it is allowed from; nil: every status.
	From []CampaignStatus
	// To lists the statuses it may lead to; nil: the status does not change.
	To []CampaignStatus
	// Publishes: the move is made by PublishVersion (CanPublish), not SetCampaignStatus.
	Publishes bool
	// When is the condition checked besides the status, if any.
	When string
}

var published = []CampaignStatus{CampaignScheduled, CampaignLive}

// Lifecycle is the campaign lifecycle, the one table that CanTransition, the API's
// allowed actions and refusals, and the table in docs/api.md derive from. Actions come
// in the order the API lists them.
var Lifecycle = []Move{
	{Action: "update", From: []CampaignStatus{CampaignDraft}},
	{Action: "delete", From: []CampaignStatus{CampaignDraft}, When: "the campaign is deleted"},
	{Action: "validate", From: []CampaignStatus{CampaignDraft}},
	{Action: "test-run", From: []CampaignStatus{CampaignDraft}},
	{Action: "publish", From: []CampaignStatus{CampaignDraft}, To: published, Publishes: true,
		When: "scheduled when the campaign has a schedule, else live"},
	{Action: "republish", Event: true, From: published, To: published, Publishes: true,
		When: "a new version of a published campaign: the state store offers it, the API does not (published versions are immutable; it publishes drafts)"},
	{Action: "trigger", From: published, To: []CampaignStatus{CampaignLive}, When: "a run starts; a scheduled campaign becomes live"},
	{Action: "first scheduled run", Event: true, From: []CampaignStatus{CampaignScheduled}, To: []CampaignStatus{CampaignLive}},
	{Action: "stop", From: published, To: []CampaignStatus{CampaignStopped}, When: "its runs are stopped"},
	{Action: "close", From: []CampaignStatus{CampaignLive}, To: []CampaignStatus{CampaignClosed},
		When: "recurring (a cron or every schedule, or none: triggered on demand); runs in flight finish"},
	{Action: "back-to-draft", From: published, To: []CampaignStatus{CampaignDraft},
		When: "scheduled: before its first run; live: it has runs and none succeeded or is running"},
	{Action: "schedule ends", Event: true, From: published, To: []CampaignStatus{CampaignCompleted},
		When: "the schedule has no slot left and no run is going"},
	{Action: "archive", From: []CampaignStatus{CampaignScheduled, CampaignLive, CampaignCompleted, CampaignStopped, CampaignClosed},
		To: []CampaignStatus{CampaignArchived}},
	{Action: "duplicate", When: "a new draft; the campaign is unchanged"},
}

// Allows reports whether m is allowed from status s.
func (m Move) Allows(s CampaignStatus) bool {
	if m.From == nil {
		return s.Valid()
	}
	return slices.Contains(m.From, s)
}

// Actions lists the actions (not events) the lifecycle allows from status s.
func Actions(s CampaignStatus) []string {
	var out []string
	for _, m := range Lifecycle {
		if !m.Event && m.Allows(s) {
			out = append(out, m.Action)
		}
	}
	return out
}

// CanTransition reports whether the lifecycle lets a campaign move from one status to
// another outside publishing (see CanPublish). Callers check the moves' conditions.
func CanTransition(from, to CampaignStatus) bool {
	for _, m := range Lifecycle {
		if !m.Publishes && from != to && m.Allows(from) && slices.Contains(m.To, to) {
			return true
		}
	}
	return false
}

// CanPublish reports whether publishing a version may move a campaign from one status
// to another: a draft is published first, a scheduled or live campaign republished.
func CanPublish(from, to CampaignStatus) bool {
	for _, m := range Lifecycle {
		if m.Publishes && m.Allows(from) && slices.Contains(m.To, to) {
			return true
		}
	}
	return false
}

// Campaign is the mutable record of a campaign: its draft and where it stands.
type Campaign struct {
	ID     string         `json:"id"`
	Name   string         `json:"name,omitempty"`
	Status CampaignStatus `json:"status"`
	// Draft is the current draft document (YAML or JSON) as the author wrote it.
	Draft []byte `json:"draft,omitempty"`
	// PublishedVersion is the number of the latest published version; 0 before the first.
	PublishedVersion int       `json:"publishedVersion,omitempty"`
	Schedule         *Schedule `json:"schedule,omitempty"`
	CreatedAt        time.Time `json:"createdAt"`
	UpdatedAt        time.Time `json:"updatedAt"`
	// Rev is the revision the store holds; UpdateCampaign writes only over the same Rev.
	Rev int64 `json:"rev"`
}

// Schedule is what the scheduler needs to know about a published campaign. The first
// five fields mirror the campaign document; times there are in Timezone.
type Schedule struct {
	Cron     string `json:"cron,omitempty"`
	Every    string `json:"every,omitempty"`
	At       string `json:"at,omitempty"`
	From     string `json:"from,omitempty"`
	Until    string `json:"until,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	// NextAt is the next slot the scheduler expects to fire, if known.
	NextAt time.Time `json:"nextAt,omitzero"`
	// Ref names the schedule in the scheduler (an EventBridge Scheduler name), if any.
	Ref string `json:"ref,omitempty"`
}

// Version is an immutable published version of a campaign. Runs are pinned to one.
type Version struct {
	CampaignID string `json:"campaignId"`
	Number     int    `json:"number"`
	Document   []byte `json:"document"`
	// ASLHash is the hash of the compiled state machine (e.g. "sha256:…").
	ASLHash string `json:"aslHash,omitempty"`
	// ASLRef locates the compiled state machine: a blob URI or a state machine ARN.
	ASLRef    string    `json:"aslRef,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// NewCampaign checks c and fills defaults for a create: status draft, times, Rev 1.
func NewCampaign(c Campaign) (Campaign, error) {
	if c.ID == "" {
		return c, fmt.Errorf("%w: campaign id is empty", ErrInvalid)
	}
	if c.Status == "" {
		c.Status = CampaignDraft
	}
	if !c.Status.Valid() {
		return c, fmt.Errorf("%w: campaign status %q", ErrInvalid, c.Status)
	}
	c.CreatedAt = Stamp(c.CreatedAt)
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.UpdatedAt = c.UpdatedAt.UTC()
	c.Rev = 1
	return c, nil
}

// EditCampaign applies an UpdateCampaign of next over the stored cur: name, draft and
// schedule change; status, version and creation stay. ErrConflict if the revisions differ.
func EditCampaign(cur, next Campaign) (Campaign, error) {
	if next.Rev != cur.Rev {
		return cur, fmt.Errorf("%w: campaign %s is at revision %d, not %d", ErrConflict, cur.ID, cur.Rev, next.Rev)
	}
	cur.Name = next.Name
	cur.Draft = next.Draft
	cur.Schedule = next.Schedule
	cur.UpdatedAt = Stamp(next.UpdatedAt)
	cur.Rev++
	return cur, nil
}

// MoveCampaign applies a status change over the stored cur, checking the expected status
// (ErrConflict) and the lifecycle (ErrInvalid).
func MoveCampaign(cur Campaign, from, to CampaignStatus, at time.Time) (Campaign, error) {
	if !CanTransition(from, to) {
		return cur, fmt.Errorf("%w: campaign transition %s → %s", ErrInvalid, from, to)
	}
	if cur.Status != from {
		return cur, fmt.Errorf("%w: campaign %s is %s, not %s", ErrConflict, cur.ID, cur.Status, from)
	}
	cur.Status = to
	cur.UpdatedAt = Stamp(at)
	cur.Rev++
	return cur, nil
}

// PublishCampaign applies a publish of v over the stored cur: v.Number must follow the
// published version and the status must be from (ErrConflict otherwise). It returns the
// campaign and the version as they are to be stored.
func PublishCampaign(cur Campaign, v Version, from, to CampaignStatus) (Campaign, Version, error) {
	if !CanPublish(from, to) {
		return cur, v, fmt.Errorf("%w: publish transition %s → %s", ErrInvalid, from, to)
	}
	if cur.Status != from {
		return cur, v, fmt.Errorf("%w: campaign %s is %s, not %s", ErrConflict, cur.ID, cur.Status, from)
	}
	if v.Number != cur.PublishedVersion+1 {
		return cur, v, fmt.Errorf("%w: campaign %s has published version %d; cannot publish %d", ErrConflict, cur.ID, cur.PublishedVersion, v.Number)
	}
	v.CreatedAt = Stamp(v.CreatedAt)
	cur.Status = to
	cur.PublishedVersion = v.Number
	cur.UpdatedAt = v.CreatedAt
	cur.Rev++
	return cur, v, nil
}

// Stamp returns t in UTC, or the current time when t is zero.
func Stamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}
