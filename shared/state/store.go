package state

import (
	"context"
	"time"
)

// Store is the whole run-state store. Consumers should depend on the small interface
// they use.
type Store interface {
	Campaigns
	Runs
	Tables
	Audiences
	Incrementals
	Keys
	Ledger
	Suppressions
	Caps
	Schedules
}

// Page asks for part of a long list: at most Limit items (all when Limit <= 0) after the
// cursor After ("" for the first page).
type Page struct {
	Limit int
	After string
}

// Campaigns holds campaign records and their immutable published versions.
type Campaigns interface {
	// CreateCampaign stores a new campaign (status draft unless set, Rev 1).
	// ErrExists if the id is taken.
	CreateCampaign(ctx context.Context, c Campaign) (Campaign, error)
	GetCampaign(ctx context.Context, id string) (Campaign, error)
	// ListCampaigns returns every campaign by id.
	ListCampaigns(ctx context.Context) ([]Campaign, error)
	// UpdateCampaign saves c's name, draft and schedule if the stored Rev is c.Rev
	// (ErrConflict otherwise) and returns the record with the next Rev.
	UpdateCampaign(ctx context.Context, c Campaign) (Campaign, error)
	// SetCampaignStatus moves a campaign from status from to status to. ErrConflict if it
	// is not in from; ErrInvalid if the lifecycle forbids it (CanTransition).
	SetCampaignStatus(ctx context.Context, id string, from, to CampaignStatus, at time.Time) (Campaign, error)
	// PublishVersion stores v and points the campaign at it in one atomic write, moving it
	// from status from to status to (CanPublish). v.Number must be the campaign's
	// PublishedVersion+1 and the status from; ErrConflict otherwise.
	PublishVersion(ctx context.Context, v Version, from, to CampaignStatus) (Campaign, error)
	GetVersion(ctx context.Context, campaignID string, number int) (Version, error)
	// ListVersions returns a campaign's versions, newest first.
	ListVersions(ctx context.Context, campaignID string) ([]Version, error)
	// DeleteCampaign deletes a draft; ErrConflict for any other status.
	DeleteCampaign(ctx context.Context, id string) error
}

// Runs holds runs and the tasks of their activities.
type Runs interface {
	// StartRun stores a new run (id generated when empty, status running unless set).
	// With an IdempotencyKey it is atomic per campaign and key: if a run was started with
	// them, that run comes back with existed true and nothing is written; the key and the
	// run are one write, so that no reader sees one without the other. Without a key, an
	// id in use gives ErrExists.
	StartRun(ctx context.Context, r Run) (run Run, existed bool, err error)
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns a campaign's runs, newest first.
	ListRuns(ctx context.Context, campaignID string, p Page) (runs []Run, next string, err error)
	// SetRunStatus moves a run from status from to status to with a reason.
	// ErrConflict if it is not in from; ErrInvalid if CanRunTransition forbids it.
	SetRunStatus(ctx context.Context, id string, from, to RunStatus, reason string, at time.Time) (Run, error)

	// UpdateTask applies u to the task of an activity, creating it (see TaskUpdate).
	UpdateTask(ctx context.Context, runID, activity string, u TaskUpdate) (Task, error)
	// AppendTaskLog appends log lines to a task, creating it pending; see AppendTaskLog.
	AppendTaskLog(ctx context.Context, runID, activity string, at time.Time, lines ...string) error
	GetTask(ctx context.Context, runID, activity string) (Task, error)
	// ListTasks returns a run's tasks by activity id.
	ListTasks(ctx context.Context, runID string) ([]Task, error)
}

// Tables holds the version history of managed warehouse tables as releases
// before dataset/tablelog kept it; table heads now live in the warehouse, and
// these records are only read to migrate them (TableHistory).
type Tables interface {
	// CurrentTable returns a table's current version; ErrNotFound (and Version 0) before
	// its first commit.
	CurrentTable(ctx context.Context, table string) (TableVersion, error)
	// CommitTable makes ref the table's next version if the current version is expected
	// (0 for the first commit). ErrConflict otherwise: of racing writers from the same
	// version exactly one commits; the others reread and retry or fail.
	CommitTable(ctx context.Context, table string, expected int64, ref string, at time.Time) (TableVersion, error)
	// TableHistory returns every version of a table, newest first.
	TableHistory(ctx context.Context, table string) ([]TableVersion, error)
	// ListTables returns the current version of every table, by name.
	ListTables(ctx context.Context) ([]TableVersion, error)
}

// Audiences holds saved audiences and their versions.
type Audiences interface {
	// SaveAudience stores a as the next version of its name and makes it current
	// (a.Version is ignored). Concurrent saves all land, in some order.
	SaveAudience(ctx context.Context, a Audience) (Audience, error)
	// GetAudience returns the current version.
	GetAudience(ctx context.Context, name string) (Audience, error)
	// AudienceHistory returns every version, newest first.
	AudienceHistory(ctx context.Context, name string) ([]Audience, error)
	// ListAudiences returns the current version of every audience, by name.
	ListAudiences(ctx context.Context) ([]Audience, error)
}

// Incrementals holds the state of incremental query activities.
type Incrementals interface {
	// GetIncremental returns the state; ErrNotFound (and Rev 0) before the first run.
	GetIncremental(ctx context.Context, campaignID, activity string) (Incremental, error)
	// AdvanceIncremental records run r if the state is at revision expectedRev (0 when
	// there is none); ErrConflict otherwise.
	AdvanceIncremental(ctx context.Context, campaignID, activity string, expectedRev int64, r IncrementalRun) (Incremental, error)
	// ResetIncremental forgets the state: the next run starts from scratch.
	ResetIncremental(ctx context.Context, campaignID, activity string) error
}

// Keys holds generic idempotency keys with expiry.
type Keys interface {
	// PutKey stores k unless a live key of the same name exists (expiry judged at
	// k.CreatedAt). It returns the key that holds and whether it is k.
	PutKey(ctx context.Context, k Key) (held Key, created bool, err error)
	// GetKey returns the key live at now; ErrNotFound if absent or expired.
	GetKey(ctx context.Context, key string, now time.Time) (Key, error)
}

// Ledger is the send ledger; see LedgerEntry for the protocol.
type Ledger interface {
	// ClaimSend stores a pending entry for k unless one exists; it returns the stored
	// entry and whether this call created it.
	ClaimSend(ctx context.Context, k SendKey, token string, at time.Time, lease time.Duration) (entry LedgerEntry, claimed bool, err error)
	// ReclaimSend takes over held (as last read) when it is failed or its lease has run
	// out at at. ErrConflict if it changed or is still held.
	ReclaimSend(ctx context.Context, held LedgerEntry, at time.Time, lease time.Duration) (LedgerEntry, error)
	// CompleteSend marks held sent. ErrConflict if held is no longer the stored pending entry.
	CompleteSend(ctx context.Context, held LedgerEntry, messageID, variant string, at time.Time) (LedgerEntry, error)
	// FailSend marks held failed. ErrConflict if held is no longer the stored pending entry.
	FailSend(ctx context.Context, held LedgerEntry, reason string, at time.Time) (LedgerEntry, error)
	GetSend(ctx context.Context, k SendKey) (LedgerEntry, error)
	// ClaimSends is ClaimSend for each of cs, in as few writes as the store can (a group
	// commit, a transaction per group); results come in cs's order. An invalid claim
	// fails the whole call before anything is written. Any other error is the store's:
	// some claims may be stored then, pending, and are settled as a crash's are.
	ClaimSends(ctx context.Context, cs []SendClaim, at time.Time, lease time.Duration) ([]SendResult, error)
	// CompleteSends is CompleteSend for each of cs, in as few writes as the store can;
	// results come in cs's order, each with its own ErrConflict or ErrNotFound. Any
	// other error is the store's: some completions may be stored then.
	CompleteSends(ctx context.Context, cs []SendCompletion, at time.Time) ([]SendResult, error)
	// ListSends returns the entries of a run's activity by channel, then recipient.
	ListSends(ctx context.Context, runID, activity string, p Page) (entries []LedgerEntry, next string, err error)
}

// Suppressions holds the addresses that must not be messaged. Addresses are normalized
// with NormalizeAddress on the way in and out.
type Suppressions interface {
	// Suppress adds or replaces the suppression of an address.
	Suppress(ctx context.Context, s Suppression) (Suppression, error)
	// Unsuppress removes it; ErrNotFound if absent.
	Unsuppress(ctx context.Context, channel, address string) error
	// CheckSuppressed returns the suppressed ones among addresses, by normalized address.
	CheckSuppressed(ctx context.Context, channel string, addresses ...string) (map[string]Suppression, error)
	// ListSuppressions returns a channel's suppressions by address.
	ListSuppressions(ctx context.Context, channel string, p Page) (list []Suppression, next string, err error)
}

// Caps counts sends per recipient and channel across campaigns, for frequency capping.
type Caps interface {
	// RecordSend records a send without checking any cap; a ref already recorded is
	// not counted again.
	RecordSend(ctx context.Context, recipient, channel string, at time.Time, ref string) error
	// CountSends returns the sends recorded at or after since.
	CountSends(ctx context.Context, recipient, channel string, since time.Time) (int, error)
	// ReserveCap atomically checks that fewer than r.Max sends are recorded since r.Since
	// and records one at r.At; of racing callers no more than the cap allows succeed.
	ReserveCap(ctx context.Context, r CapRequest) (bool, error)
	// ReserveCaps is ReserveCap for each of rs, in order, in as few writes as the store
	// can; granted[i] answers rs[i]. An invalid request fails the whole call before
	// anything is written.
	ReserveCaps(ctx context.Context, rs []CapRequest) (granted []bool, err error)
	// ReleaseCap forgets the send recorded with ref (a reservation that did not send).
	ReleaseCap(ctx context.Context, recipient, channel, ref string) error
}

// Schedules holds the scheduler's claims on slots.
type Schedules interface {
	// ClaimFiring stores f unless the slot is claimed; it returns the stored firing and
	// whether this call created it.
	ClaimFiring(ctx context.Context, f Firing) (firing Firing, claimed bool, err error)
	GetFiring(ctx context.Context, campaignID string, slot time.Time) (Firing, error)
	// ListFirings returns a campaign's firings, newest slot first.
	ListFirings(ctx context.Context, campaignID string, p Page) (firings []Firing, next string, err error)
}
