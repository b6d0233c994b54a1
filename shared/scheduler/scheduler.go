// Package scheduler fires the schedules of published campaigns in local mode (on AWS,
// EventBridge Scheduler does). Slots come from the campaign's schedule in its time
// zone: cron expressions through robfig/cron, `every` periods from the window's start
// (or the publish time), a single `at`, all within the validity window from/until.
//
// Restart-safe: every due slot is claimed in the state store (Schedules.ClaimFiring)
// before its run starts, under a run id chosen before the claim, so a slot fires at
// most once however many schedulers tick and however often they restart. After a
// restart the scheduler walks the slots missed since the last claimed one: those still
// within the grace period fire, older ones are recorded expired and never fire (the
// late-start guard). A crash between a claim and the run's start is repaired by the
// next tick while the slot is within the grace period.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Store is the part of the state store the scheduler uses.
type Store interface {
	ListCampaigns(ctx context.Context) ([]state.Campaign, error)
	GetVersion(ctx context.Context, campaignID string, number int) (state.Version, error)
	SetCampaignStatus(ctx context.Context, id string, from, to state.CampaignStatus, at time.Time) (state.Campaign, error)
	GetRun(ctx context.Context, id string) (state.Run, error)
	ListRuns(ctx context.Context, campaignID string, p state.Page) ([]state.Run, string, error)
	state.Schedules
}

// Defaults.
const (
	DefaultGrace = 15 * time.Minute
	DefaultPoll  = 30 * time.Second
	// MaxCatchUp bounds the slots one tick examines per campaign; a longer backlog
	// continues on the next tick.
	MaxCatchUp = 1000
)

// Scheduler fires due slots.
type Scheduler struct {
	Store Store
	// Fire starts the run of a claimed firing (its RunID, idempotent per slot).
	Fire func(ctx context.Context, f state.Firing) error
	// Grace is how late a slot may still fire; later it is recorded expired.
	Grace time.Duration
	// Poll is the longest sleep between ticks (new campaigns are seen then).
	Poll   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

func (s *Scheduler) defaults() {
	if s.Grace <= 0 {
		s.Grace = DefaultGrace
	}
	if s.Poll <= 0 {
		s.Poll = DefaultPoll
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
}

// Run ticks until ctx ends, sleeping until the next slot (at most Poll).
func (s *Scheduler) Run(ctx context.Context) error {
	s.defaults()
	for {
		now := s.Now()
		next, err := s.Tick(ctx, now)
		if err != nil && ctx.Err() == nil {
			s.Logger.Error("scheduler tick", "error", err)
		}
		wait := s.Poll
		if !next.IsZero() && next.Sub(now) < wait {
			wait = max(next.Sub(now), 10*time.Millisecond)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// Tick handles every slot due at now and returns the earliest future slot (zero if
// none). Errors of one campaign do not stop the others; the first is returned.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) (time.Time, error) {
	s.defaults()
	cs, err := s.Store.ListCampaigns(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	var first error
	for _, c := range cs {
		if c.Schedule == nil || c.PublishedVersion == 0 || (c.Status != state.CampaignScheduled && c.Status != state.CampaignLive) {
			continue
		}
		n, err := s.campaign(ctx, c, now)
		if err != nil {
			s.Logger.Error("scheduler", "campaign", c.ID, "error", err)
			if first == nil {
				first = err
			}
		}
		if !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next, first
}

func (s *Scheduler) campaign(ctx context.Context, c state.Campaign, now time.Time) (time.Time, error) {
	v, err := s.Store.GetVersion(ctx, c.ID, c.PublishedVersion)
	if err != nil {
		return time.Time{}, err
	}
	plan, err := NewPlan(*c.Schedule, v.CreatedAt)
	if err != nil {
		return time.Time{}, err
	}
	// Slots at or after the publish time are this version's; resume after the newest
	// claimed one.
	start := v.CreatedAt.Add(-time.Nanosecond)
	recent, _, err := s.Store.ListFirings(ctx, c.ID, state.Page{Limit: 10})
	if err != nil {
		return time.Time{}, err
	}
	if len(recent) > 0 && recent[0].Slot.After(start) {
		start = recent[0].Slot
	}
	// Repair: a slot claimed within the grace period whose run never started.
	for _, f := range recent {
		if f.Status != state.FiringFired || now.Sub(f.Slot) > s.Grace || f.Slot.Before(v.CreatedAt) {
			continue
		}
		if _, err := s.Store.GetRun(ctx, f.RunID); errors.Is(err, state.ErrNotFound) {
			s.Logger.Info("scheduler: restarting a claimed slot", "campaign", c.ID, "slot", f.Slot)
			if err := s.Fire(ctx, f); err != nil {
				return time.Time{}, fmt.Errorf("fire %s at %s: %w", c.ID, f.Slot.Format(time.RFC3339), err)
			}
		}
	}
	slot := plan.Next(start)
	for i := 0; i < MaxCatchUp && !slot.IsZero() && !slot.After(now); i++ {
		if err := s.claim(ctx, c, slot, now); err != nil {
			return time.Time{}, err
		}
		slot = plan.Next(slot)
	}
	if slot.IsZero() {
		return time.Time{}, s.finish(ctx, c, now)
	}
	return slot, nil
}

func (s *Scheduler) claim(ctx context.Context, c state.Campaign, slot, now time.Time) error {
	late := now.Sub(slot)
	if late > s.Grace {
		_, claimed, err := s.Store.ClaimFiring(ctx, state.Firing{CampaignID: c.ID, Slot: slot, Status: state.FiringExpired, At: now,
			Reason: fmt.Sprintf("found %s late, beyond the grace period of %s", late.Round(time.Second), s.Grace)})
		if claimed {
			s.Logger.Info("scheduler: slot expired", "campaign", c.ID, "slot", slot, "late", late.Round(time.Second).String())
		}
		return err
	}
	f, claimed, err := s.Store.ClaimFiring(ctx, state.Firing{CampaignID: c.ID, Slot: slot, Status: state.FiringFired, RunID: state.NewRunID(), At: now})
	if err != nil || !claimed {
		return err
	}
	if err := s.Fire(ctx, f); err != nil {
		return fmt.Errorf("fire %s at %s: %w", c.ID, slot.Format(time.RFC3339), err)
	}
	return nil
}

// finish completes a campaign whose schedule has no slot left, once no run is going.
func (s *Scheduler) finish(ctx context.Context, c state.Campaign, now time.Time) error {
	runs, _, err := s.Store.ListRuns(ctx, c.ID, state.Page{Limit: 50})
	if err != nil {
		return err
	}
	for _, r := range runs {
		if !r.Test && !r.Status.Terminal() {
			return nil
		}
	}
	_, err = s.Store.SetCampaignStatus(ctx, c.ID, c.Status, state.CampaignCompleted, now)
	if errors.Is(err, state.ErrConflict) {
		return nil
	}
	return err
}

// Plan computes the slots of a schedule.
type Plan struct {
	loc         *time.Location
	cron        cron.Schedule
	every       time.Duration
	base        time.Time // every: the first slot
	at          time.Time
	from, until time.Time // until is exclusive
}

// NewPlan reads a schedule published at anchor. Slots before anchor are never this
// version's (the scheduler starts there), so a `from` already past means from anchor:
// `every` periods start at from, or at anchor when from is absent or past, as on AWS,
// where a past start date is moved to the publish time.
func NewPlan(s state.Schedule, anchor time.Time) (*Plan, error) {
	loc, err := campaign.LoadLocation(s.Timezone)
	if err != nil {
		return nil, fmt.Errorf("schedule time zone: %w", err)
	}
	p := &Plan{loc: loc}
	if p.from, p.until, err = Window(s, loc); err != nil {
		return nil, err
	}
	switch {
	case s.Cron != "":
		if p.cron, err = campaign.ParseCron(s.Cron); err != nil {
			return nil, fmt.Errorf("schedule cron: %w", err)
		}
	case s.Every != "":
		if p.every, err = campaign.ParseDuration(s.Every); err != nil || p.every <= 0 {
			return nil, fmt.Errorf("schedule every %q", s.Every)
		}
		p.base = anchor
		if p.from.After(anchor) {
			p.base = p.from
		}
	case s.At != "":
		if p.at, _, err = campaign.ParseTime(s.At, loc); err != nil {
			return nil, fmt.Errorf("schedule at: %w", err)
		}
	default:
		return nil, fmt.Errorf("schedule has none of cron, every, at")
	}
	return p, nil
}

// Next returns the first slot strictly after after, or zero when there is none.
func (p *Plan) Next(after time.Time) time.Time {
	if !p.from.IsZero() && after.Before(p.from) {
		after = p.from.Add(-time.Nanosecond)
	}
	var t time.Time
	switch {
	case p.cron != nil:
		t = p.cron.Next(after.In(p.loc))
	case p.every > 0:
		if after.Before(p.base) {
			t = p.base
		} else {
			k := after.Sub(p.base)/p.every + 1
			t = p.base.Add(k * p.every)
		}
	default:
		if p.at.After(after) {
			t = p.at
		}
	}
	if t.IsZero() || (!p.until.IsZero() && !t.Before(p.until)) {
		return time.Time{}
	}
	return t.UTC()
}

// Window reads a schedule's validity window in loc: from (zero when absent) and until,
// exclusive (zero when absent; a date-only until covers its whole day).
func Window(s state.Schedule, loc *time.Location) (from, until time.Time, err error) {
	if s.From != "" {
		if from, _, err = campaign.ParseTime(s.From, loc); err != nil {
			return from, until, fmt.Errorf("schedule from: %w", err)
		}
	}
	if s.Until != "" {
		var dateOnly bool
		if until, dateOnly, err = campaign.ParseTime(s.Until, loc); err != nil {
			return from, until, fmt.Errorf("schedule until: %w", err)
		}
		if dateOnly {
			until = until.AddDate(0, 0, 1)
		}
	}
	return from, until, nil
}

// ExpiredError tells that a schedule published at Now would never fire: Path is the
// campaign field that has passed (schedule.until or schedule.at).
type ExpiredError struct {
	Path    string
	Message string
}

func (e *ExpiredError) Error() string { return e.Path + ": " + e.Message }

// CheckNotExpired returns an *ExpiredError when a schedule published at now has no
// slot left: its until or its at has passed, or no slot falls between now and until.
func CheckNotExpired(s state.Schedule, now time.Time) error {
	p, err := NewPlan(s, now)
	if err != nil {
		return err
	}
	if !p.Next(now.Add(-time.Nanosecond)).IsZero() {
		return nil
	}
	when := now.In(p.loc).Format(time.RFC3339)
	switch {
	case s.At != "" && p.at.Before(now):
		return &ExpiredError{Path: "schedule.at", Message: fmt.Sprintf("the schedule's time %s has passed (it is now %s): set a later at, or remove the schedule", s.At, when)}
	case s.Until != "" && !p.until.After(now):
		return &ExpiredError{Path: "schedule.until", Message: fmt.Sprintf("the schedule ended with %s (it is now %s): set a later until, or remove it", s.Until, when)}
	}
	return &ExpiredError{Path: "schedule", Message: fmt.Sprintf("no slot of the schedule falls within its window after now (%s): widen from/until", when)}
}

// Upcoming returns up to n slots of a published schedule after now (none
// before the version's publish time, none past until): what a list of
// campaigns shows as the next launches.
func Upcoming(s state.Schedule, publishedAt, now time.Time, n int) ([]time.Time, error) {
	plan, err := NewPlan(s, publishedAt)
	if err != nil {
		return nil, err
	}
	after := now
	if after.Before(publishedAt) {
		after = publishedAt.Add(-time.Nanosecond)
	}
	var out []time.Time
	for len(out) < n {
		t := plan.Next(after)
		if t.IsZero() {
			break
		}
		out = append(out, t)
		after = t
	}
	return out, nil
}
