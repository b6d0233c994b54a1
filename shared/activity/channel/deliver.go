package channel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/mail"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Skip reasons on the skipped port.
const (
	ReasonNoAddress      = "no address"
	ReasonInvalidAddress = "invalid address"
	ReasonNoConsent      = "no consent"
	ReasonSuppressed     = "suppressed"
	ReasonCapped         = "frequency cap"
	ReasonQuietHours     = "quiet hours"
	ReasonHoldout        = "holdout"
	ReasonWindow         = "window ended"
	ReasonDuplicate      = "duplicate recipient"
	ReasonUnknown        = "unknown outcome"
	// Prefixes of reasons with details.
	ReasonRender   = "render error: "
	ReasonRejected = "rejected: "
	// ReasonFailed only names transient failures in the task log.
	ReasonFailed = "send failed: "
)

// Ledger reasons of failed entries: a transient one is sent again by the
// next attempt; the others are final.
const (
	ledgerTransient = "transient: "
	ledgerSkip      = "skip: "
)

// DefaultMaxErrors is the number of failed sends in one slice after which
// the activity pauses.
const DefaultMaxErrors = 100

// recipient is one row of a slice on its way to a message.
type recipient struct {
	idx        int   // position in the slice
	row        int64 // _sw_row of the plan
	key        string
	address    string
	consent    bool
	loc        *time.Location
	wave       time.Time
	values     map[string]any
	suppressed bool
	assign     assignment
	token      string // the ledger token, once computed
}

// outcome is one row of a slice part.
type outcome struct {
	Row       int64      `json:"_sw_row"`
	Status    string     `json:"status"`
	MessageID string     `json:"messageId,omitempty"`
	Variant   string     `json:"variant,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Recipient string     `json:"recipient"`
	Address   string     `json:"address,omitempty"`
	Token     string     `json:"token,omitempty"`
	SentAt    *time.Time `json:"sentAt,omitempty"`
}

// Outcome statuses.
const (
	statusSent    = "sent"
	statusSkipped = "skipped"
)

// deliverer sends the recipients of one slice: the checks at send time,
// rendering, caps, the ledger protocol and the provider call.
type deliverer struct {
	kind      *Kind
	x         *Config
	opts      Options
	test      bool
	run, act  string
	dimension string

	ledger Ledger
	caps   Caps
	keys   Keys
	sup    Suppressions
	sender send.Sender
	groups send.GroupSender // the sender's, when it takes groups (send.GroupOf)
	rn     *renderer
	prep   *prepared
	now    func() time.Time

	windowEnd time.Time
	quiet     *quiet
	capMax    int
	capPer    time.Duration
	limiter   *rate.Limiter
	// retry: this slice ran before, so a recipient skipped at send time may
	// have been sent by an earlier attempt: the ledger is asked first.
	retry      bool
	maxErrors  int64
	canFind    bool
	idempotent bool
	// stopAt: take no recipient from then on; callsUntil: no provider call
	// may last past it (zero: no deadline). See sliceStops.
	stopAt, callsUntil time.Time

	outcomes []outcome
	errs     atomic.Int64
	unsent   atomic.Int64 // failed transiently after every attempt
	stopped  atomic.Bool
	held     atomic.Bool // a recipient is held by a lease (another attempt's, or a call cut here)

	mu       sync.Mutex
	stopErr  error
	deferred []*deferredSend
	// unsentCause is the last cause of a send that failed transiently.
	unsentCause string
	// proofs is a test slice's sample of rendered messages (keepProof).
	proofs []Proof
	// values keeps the value maps of rendered test recipients for the next
	// rows (a test run drops each message once it is rendered).
	values sync.Pool
}

// valuesMap returns an empty map for a recipient's values.
func (d *deliverer) valuesMap(n int) map[string]any {
	if m, ok := d.values.Get().(map[string]any); ok {
		return m
	}
	return make(map[string]any, n)
}

// recycle gives r's values back once nothing reads them again.
func (d *deliverer) recycle(r *recipient) {
	if r.values != nil {
		clear(r.values)
		d.values.Put(r.values)
		r.values = nil
	}
}

type deferredSend struct {
	r     *recipient
	until time.Time
}

func (d *deliverer) stop(err error) {
	d.mu.Lock()
	if d.stopErr == nil {
		d.stopErr = err
	}
	d.mu.Unlock()
	d.stopped.Store(true)
}

func (d *deliverer) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopErr
}

func (d *deliverer) key(r *recipient) state.SendKey {
	return state.SendKey{RunID: d.run, Activity: d.act, Channel: d.kind.Type, Recipient: r.key}
}

func (d *deliverer) variant(r *recipient) string {
	if r.assign.variant >= 0 && d.x.Experiment != nil && r.assign.variant < len(d.x.Experiment.Variants) {
		return d.x.Experiment.Variants[r.assign.variant].Name
	}
	return ""
}

func (d *deliverer) sent(r *recipient, id, variant string, at time.Time) {
	at = at.UTC()
	d.outcomes[r.idx] = outcome{Row: r.row, Status: statusSent, MessageID: id, Variant: variant,
		Recipient: r.key, Address: r.address, Token: d.token(r), SentAt: &at}
}

// token is r's ledger token, computed once; "" in a test run, which
// claims no ledger entry.
func (d *deliverer) token(r *recipient) string {
	if r.token == "" && !d.test {
		r.token = d.key(r).Token()
	}
	return r.token
}

func (d *deliverer) skip(r *recipient, reason string) {
	d.outcomes[r.idx] = outcome{Row: r.row, Status: statusSkipped, Reason: reason, Recipient: r.key, Address: r.address}
}

// failed skips r after a failed send and pauses past the error threshold.
func (d *deliverer) failed(r *recipient, reason string) {
	d.skip(r, reason)
	d.countError(reason)
}

func (d *deliverer) countError(reason string) {
	if n := d.errs.Add(1); n >= d.maxErrors {
		d.stop(&activity.Paused{Msg: fmt.Sprintf("%s %s paused after %d failed sends in one slice (last: %s); resume the run to retry the failed ones",
			d.kind.Type, d.act, n, reason)})
	}
}

func (d *deliverer) defer_(r *recipient, until time.Time) {
	d.held.Store(true)
	d.mu.Lock()
	d.deferred = append(d.deferred, &deferredSend{r, until})
	d.mu.Unlock()
}

// fatal stops the slice on a failure of the ledger or the caps.
func (d *deliverer) fatal(what string, err error) {
	d.stop(fmt.Errorf("%s: %w", what, err))
}

// plainAddress reports whether s is local@domain in the common shape that
// net/mail accepts as is (dot-separated runs of letters, digits and
// "_%+-" before the @, of letters, digits and "-" after): such addresses skip
// the full parser, every other goes through it.
func plainAddress(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return false
	}
	return dotRuns(s[:at], "_%+-") && dotRuns(s[at+1:], "-")
}

// dotRuns reports whether s is non-empty runs of ASCII letters, digits and
// extra, separated by single dots.
func dotRuns(s, extra string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if run == 0 {
				return false
			}
			run = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte(extra, c) >= 0:
			run++
		default:
			return false
		}
	}
	return run > 0
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// static applies the checks that do not change between attempts, in order:
// address, consent, holdout. "" means eligible.
func (d *deliverer) static(r *recipient) string {
	if strings.TrimSpace(r.address) == "" {
		return ReasonNoAddress
	}
	switch d.kind.Type {
	case send.Email:
		if !plainAddress(r.address) {
			if a, err := mail.ParseAddress(r.address); err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
				return ReasonInvalidAddress
			}
		}
	case send.SMS:
		if !e164.MatchString(state.NormalizeAddress(send.SMS, r.address)) {
			return ReasonInvalidAddress
		}
	}
	if d.x.Marketing() && !r.consent {
		return ReasonNoConsent
	}
	if r.assign.holdout {
		return ReasonHoldout
	}
	return ""
}

// dynamic applies the checks that depend on the time of sending.
func (d *deliverer) dynamic(r *recipient, now time.Time) string {
	switch {
	case r.suppressed:
		return ReasonSuppressed
	case !d.windowEnd.IsZero() && !now.Before(d.windowEnd):
		return ReasonWindow
	case d.quiet != nil && d.quiet.in(later(now, r.wave), r.loc):
		// A wave sends when the recipient's quiet hours end; a send that
		// drifts into the next quiet hours is skipped, not held again.
		return ReasonQuietHours
	}
	return ""
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (d *deliverer) capRecipient(r *recipient) string { return d.dimension + ":" + r.key }

// one takes one eligible recipient of a test run through the checks and
// rendering: a test run claims nothing and sends nothing.
func (d *deliverer) one(ctx context.Context, r *recipient) {
	if d.timeUp() {
		return // the next invocation takes it
	}
	now := d.now()
	if reason := d.dynamic(r, now); reason != "" {
		d.dynSkip(ctx, r, reason)
		return
	}
	keep := d.proofWanted(r) // other messages are rendered, checked and dropped
	msg, err := d.rn.content(d.prep.arm(r.assign.variant), r, keep)
	if keep {
		d.keepProof(r, msg, err)
	}
	d.recycle(r) // the message and its proof hold none of them
	if err != nil {
		d.skip(r, ReasonRender+err.Error())
		return
	}
	if d.capMax > 0 {
		n, err := d.caps.CountSends(ctx, d.capRecipient(r), d.kind.Type, now.Add(-d.capPer))
		if err != nil {
			d.fatal("read caps", err)
			return
		}
		if n >= d.capMax {
			d.skip(r, ReasonCapped)
			return
		}
	}
	d.sent(r, "", d.variant(r), now)
}

// job is one message of a group on its way through the ledger.
type job struct {
	r      *recipient
	msg    *send.Message
	capRef string
	held   state.LedgerEntry
	id     string // the provider's message id, once sent
}

// group takes eligible recipients through the send protocol together: each
// is checked and rendered, then the group's cap reservations and its ledger
// claims are one write each (one for both where the store can), the claimed
// messages are sent one after another, and their completions are one write
// (see together). Per message the order stays
// claim, provider call, completion: a crash anywhere leaves pending entries
// that the next attempt settles as it settles one (see existing).
func (d *deliverer) group(ctx context.Context, rs []*recipient) {
	if d.test {
		for _, r := range rs {
			if d.stopped.Load() || ctx.Err() != nil {
				return
			}
			d.one(ctx, r)
		}
		return
	}
	now := d.now()
	jobs := make([]*job, 0, len(rs))
	for _, r := range rs {
		if d.stopped.Load() || ctx.Err() != nil || d.timeUp() {
			break // the next attempt or invocation takes the rest
		}
		if reason := d.dynamic(r, now); reason != "" {
			d.dynSkip(ctx, r, reason)
			continue
		}
		msg, err := d.rn.render(d.prep.arm(r.assign.variant), r, d.token(r))
		if err != nil {
			d.skip(r, ReasonRender+err.Error())
			continue
		}
		jobs = append(jobs, &job{r: r, msg: msg})
	}
	if len(jobs) == 0 {
		return
	}
	res, ok := d.claimGroup(ctx, jobs, now)
	if !ok {
		return
	}
	// A provider that can tell whether a message left (or drops a repeated
	// token) lets a crash leave the whole group sent but unrecorded; with any
	// other, each message is recorded as soon as it left, so that a crash
	// leaves at most one unknown outcome per worker.
	together := d.canFind || d.idempotent
	// Such a provider that takes a group in one call (the outbox) gets the
	// group's messages at once, unless a rate paces them one by one.
	var gs send.GroupSender
	if together && d.limiter == nil {
		gs = d.groups
	}
	var sent, claimed []*job
	for i, j := range jobs {
		if j == nil {
			continue // capped
		}
		if !res[i].Claimed {
			d.existing(ctx, j.r, res[i].Entry, j.msg, "", j.capRef)
			continue
		}
		j.held = res[i].Entry
		if gs != nil {
			claimed = append(claimed, j)
			continue
		}
		id, ok := d.transmit(ctx, j.r, j.held, j.msg, j.capRef)
		switch {
		case ok && together:
			j.id = id
			sent = append(sent, j)
		case ok:
			d.complete(ctx, j.r, j.held, id)
		}
	}
	if len(claimed) > 0 {
		sent = d.sendGroup(ctx, gs, claimed)
	}
	d.completeAll(ctx, sent)
}

// dynSkip skips r for a reason found at send time, unless an earlier attempt
// sent it.
func (d *deliverer) dynSkip(ctx context.Context, r *recipient, reason string) {
	if !d.test && d.retry {
		e, err := d.ledger.GetSend(ctx, d.key(r))
		if err == nil {
			d.existing(ctx, r, e, nil, reason, "")
			return
		}
		if !errors.Is(err, state.ErrNotFound) {
			d.fatal("read send", err)
			return
		}
	}
	d.skip(r, reason)
}

// existing settles a recipient whose ledger entry an earlier attempt made.
// skipReason is set when r may not be sent now; msg is nil then.
func (d *deliverer) existing(ctx context.Context, r *recipient, e state.LedgerEntry, msg *send.Message, skipReason, capRef string) {
	now := d.now()
	switch e.Status {
	case state.SendSent:
		d.sent(r, e.MessageID, e.Variant, e.UpdatedAt)
	case state.SendFailed:
		if skipReason == "" && strings.HasPrefix(e.Reason, ledgerTransient) {
			if held, ok := d.reclaim(ctx, r, e, now); ok {
				d.sendOne(ctx, r, held, msg, capRef)
			}
			return
		}
		d.release(ctx, r, capRef)
		switch {
		case skipReason != "":
			d.skip(r, skipReason)
		case strings.HasPrefix(e.Reason, ledgerSkip):
			d.skip(r, strings.TrimPrefix(e.Reason, ledgerSkip))
		default:
			d.skip(r, e.Reason)
		}
	case state.SendPending:
		if e.LeaseUntil.After(now) {
			d.defer_(r, e.LeaseUntil)
			return
		}
		if held, ok := d.reclaim(ctx, r, e, now); ok {
			d.resolve(ctx, r, held, msg, skipReason, capRef)
		}
	default:
		// Perhaps a newer release's: retried.
		d.stop(&activity.Retryable{Msg: fmt.Sprintf("ledger: unknown send status %q", e.Status)})
	}
}

// reclaim takes e over from an attempt that stopped; false when another
// attempt got it first (r is deferred) or the store failed (the slice stops).
func (d *deliverer) reclaim(ctx context.Context, r *recipient, e state.LedgerEntry, now time.Time) (state.LedgerEntry, bool) {
	held, err := d.ledger.ReclaimSend(ctx, e, now, d.opts.Lease)
	if errors.Is(err, state.ErrConflict) {
		d.defer_(r, now.Add(d.opts.Lease))
		return held, false
	}
	if err != nil {
		d.fatal("reclaim send", err)
		return held, false
	}
	return held, true
}

// resolve settles a reclaimed entry whose earlier attempt stopped between
// claiming and recording the provider's answer.
func (d *deliverer) resolve(ctx context.Context, r *recipient, held state.LedgerEntry, msg *send.Message, skipReason, capRef string) {
	if d.canFind {
		id, found, err := send.FindSent(ctx, d.sender, d.kind.Type, held.Token)
		if err != nil {
			d.fatal("find sent message", err)
			return
		}
		if found {
			d.complete(ctx, r, held, id)
			return
		}
	} else if !d.idempotent || skipReason != "" {
		// The provider cannot tell: stay at most once.
		d.failEntry(ctx, held, "unknown outcome: an earlier attempt stopped during the provider call")
		d.release(ctx, r, capRef)
		d.failed(r, ReasonUnknown)
		return
	}
	if skipReason != "" {
		d.failEntry(ctx, held, ledgerSkip+skipReason)
		d.release(ctx, r, capRef)
		d.skip(r, skipReason)
		return
	}
	d.sendOne(ctx, r, held, msg, capRef)
}

func (d *deliverer) failEntry(ctx context.Context, held state.LedgerEntry, reason string) {
	if _, err := d.ledger.FailSend(context.WithoutCancel(ctx), held, reason, d.now()); err != nil {
		d.fatal("record failed send", err)
	}
}

func (d *deliverer) release(ctx context.Context, r *recipient, capRef string) {
	if capRef != "" {
		d.caps.ReleaseCap(context.WithoutCancel(ctx), d.capRecipient(r), d.kind.Type, capRef)
	}
}

// sendOne sends and completes one held entry.
func (d *deliverer) sendOne(ctx context.Context, r *recipient, held state.LedgerEntry, msg *send.Message, capRef string) {
	if id, ok := d.transmit(ctx, r, held, msg, capRef); ok {
		d.complete(ctx, r, held, id)
	}
}

// transmit calls the provider for a held entry, with rate limiting and
// retries on throttling and transient errors. It returns the message id when
// the message left (or was found sent): the caller completes the entry.
// Otherwise it has settled the entry and r itself.
func (d *deliverer) transmit(ctx context.Context, r *recipient, held state.LedgerEntry, msg *send.Message, capRef string) (string, bool) {
	return d.transmitFrom(ctx, r, held, msg, capRef, nil)
}

// call is the answer of one provider call.
type call struct {
	id      string
	err     error
	bounded bool // the call's timeout was the slice's deadline
}

// transmitFrom is transmit whose first attempt's answer, when first is set,
// is that of a group call (sendGroup) already made.
func (d *deliverer) transmitFrom(ctx context.Context, r *recipient, held state.LedgerEntry, msg *send.Message, capRef string, first *call) (string, bool) {
	for attempt := 1; ; attempt++ {
		var c call
		if attempt == 1 && first != nil {
			c = *first
		} else {
			if d.stopped.Load() || ctx.Err() != nil || d.pace(ctx) != nil {
				// Not called: the next attempt sends it.
				d.failEntry(ctx, held, ledgerTransient+"interrupted before the provider call")
				return "", false
			}
			timeout, ok := d.ready(ctx, r, held, capRef)
			if !ok {
				return "", false
			}
			cctx, cancel := context.WithTimeout(ctx, timeout.d)
			// A provider ceiling (send.Limited) waits too: it checks again after.
			cctx = send.WithStillDue(cctx, func() string { return d.dynamic(r, d.now()) })
			c.id, c.err = d.sender.Send(cctx, msg)
			c.bounded = timeout.bounded
			cancel()
		}
		id, err, bounded := c.id, c.err, c.bounded
		var nd *send.NotDue
		if errors.As(err, &nd) {
			d.notDue(ctx, r, held, capRef, nd.Reason)
			return "", false
		}
		switch send.Kind(err) {
		case send.KindNone:
			return id, true
		case send.KindPermanent:
			d.failEntry(ctx, held, ReasonRejected+strings.TrimPrefix(err.Error(), "rejected: "))
			d.release(ctx, r, capRef)
			d.failed(r, ReasonRejected+strings.TrimPrefix(err.Error(), "rejected: "))
			return "", false
		case send.KindAccount:
			d.failEntry(ctx, held, ledgerTransient+err.Error())
			d.stop(&activity.Paused{Msg: fmt.Sprintf("%s %s paused: the provider refuses the sending account: %v; fix it and resume the run", d.kind.Type, d.act, err)})
			return "", false
		case send.KindCanceled:
			if ctx.Err() != nil || bounded {
				// The slice is stopping mid-call (canceled, or out of time): the
				// outcome is unknown and the entry stays pending for the next
				// attempt to settle.
				if bounded {
					d.held.Store(true) // by this attempt's lease: not a slice without progress
					d.stop(errOutOfTime)
				}
				return "", false
			}
			err = &send.Transient{Msg: "provider call timed out"}
			fallthrough
		default: // throttled, transient
			if d.canFind {
				// The message may have left with its answer lost: look before resending.
				if id, found, ferr := send.FindSent(ctx, d.sender, d.kind.Type, held.Token); ferr == nil && found {
					return id, true
				}
			}
			if attempt >= d.opts.MaxAttempts {
				// Not settled: the slice fails once the others are done and
				// its retry sends this one again.
				d.failEntry(ctx, held, ledgerTransient+err.Error())
				d.release(ctx, r, capRef)
				d.unsent.Add(1)
				d.mu.Lock()
				d.unsentCause = withoutAddress(err.Error(), msg.To)
				d.mu.Unlock()
				d.countError(ReasonFailed + err.Error())
				return "", false
			}
			wait := d.opts.Backoff << min(attempt-1, 6)
			var th *send.Throttled
			if errors.As(err, &th) && th.RetryAfter > wait {
				wait = th.RetryAfter
			}
			if err := d.opts.Sleep(ctx, min(wait, 10*time.Second)); err != nil {
				d.failEntry(ctx, held, ledgerTransient+"interrupted during backoff")
				return "", false
			}
		}
	}
}

type callBound struct {
	d       time.Duration
	bounded bool
}

// ready checks, as late as possible before a provider call for a held
// entry, that the call may be made, and returns its timeout. false: the
// entry and r are settled (or the slice stops) and no call is made.
func (d *deliverer) ready(ctx context.Context, r *recipient, held state.LedgerEntry, capRef string) (callBound, bool) {
	if d.stopped.Load() || ctx.Err() != nil || d.timeUp() {
		// Not called: the next attempt sends it.
		d.failEntry(ctx, held, ledgerTransient+"interrupted before the provider call")
		return callBound{}, false
	}
	// A wait (rate, backoff) may have outlasted the window or run into quiet
	// hours: check again.
	if reason := d.dynamic(r, d.now()); reason != "" {
		d.notDue(ctx, r, held, capRef, reason)
		return callBound{}, false
	}
	if d.now().Add(d.opts.CallTimeout).After(held.LeaseUntil) {
		// Calling now could outlive the lease; give the entry back.
		d.failEntry(ctx, held, ledgerTransient+"lease ran out before the provider call")
		d.defer_(r, d.now())
		return callBound{}, false
	}
	timeout, bounded := d.callTimeout()
	if timeout <= 0 {
		d.failEntry(ctx, held, ledgerTransient+"interrupted before the provider call")
		d.stop(errOutOfTime)
		return callBound{}, false
	}
	return callBound{timeout, bounded}, true
}

// sendGroup sends a group's claimed messages in one call of a GroupSender
// (the outbox: one write) and returns those that left; each of the others
// goes on as transmit would after its first attempt (retried alone, or
// settled).
func (d *deliverer) sendGroup(ctx context.Context, gs send.GroupSender, jobs []*job) []*job {
	var ready []*job
	var bound callBound
	for _, j := range jobs {
		b, ok := d.ready(ctx, j.r, j.held, j.capRef)
		if !ok {
			continue
		}
		if len(ready) == 0 || b.d < bound.d {
			bound = b
		}
		ready = append(ready, j)
	}
	if len(ready) == 0 {
		return nil
	}
	ms := make([]*send.Message, len(ready))
	for i, j := range ready {
		ms[i] = j.msg
	}
	cctx, cancel := context.WithTimeout(ctx, bound.d)
	ids, errs := gs.SendGroup(cctx, ms)
	cancel()
	sent := ready[:0]
	for i, j := range ready {
		id, ok := ids[i], true
		if errs[i] != nil {
			id, ok = d.transmitFrom(ctx, j.r, j.held, j.msg, j.capRef, &call{err: errs[i], bounded: bound.bounded})
		}
		if ok {
			j.id = id
			sent = append(sent, j)
		}
	}
	return sent
}

// pace waits for the slice's share of the activity's rate, on the
// deliverer's clock (tests inject one).
func (d *deliverer) pace(ctx context.Context) error {
	if d.limiter == nil {
		return nil
	}
	now := d.now()
	res := d.limiter.ReserveN(now, 1)
	if !res.OK() {
		return fmt.Errorf("rate: cannot send one message at %v", d.limiter.Limit())
	}
	if err := d.opts.Sleep(ctx, res.DelayFrom(now)); err != nil {
		res.CancelAt(d.now())
		return err
	}
	return nil
}

// notDue skips a held recipient that may no longer be sent (window, quiet
// hours) after a wait; the provider was not called.
func (d *deliverer) notDue(ctx context.Context, r *recipient, held state.LedgerEntry, capRef, reason string) {
	d.failEntry(ctx, held, ledgerSkip+reason)
	d.release(ctx, r, capRef)
	d.skip(r, reason)
}

// complete records a sent message; the ledger write is retried a few times.
func (d *deliverer) complete(ctx context.Context, r *recipient, held state.LedgerEntry, id string) {
	variant := d.variant(r)
	var err error
	for i := 0; i < 3; i++ {
		if _, err = d.ledger.CompleteSend(context.WithoutCancel(ctx), held, id, variant, d.now()); err == nil || errors.Is(err, state.ErrConflict) {
			break
		}
		d.opts.Sleep(context.WithoutCancel(ctx), d.opts.Backoff<<i)
	}
	if err != nil {
		// Sent, but not recorded: the next attempt settles the pending entry.
		d.fatal("record sent message", err)
		return
	}
	d.sent(r, id, variant, d.now())
}

// claimGroup reserves the caps of a group's marketing messages and claims
// them in the ledger: one write each, or one for both when the store does
// both (capClaimer). A capped recipient is skipped and its job set to nil;
// res answers the others. false: the slice stops.
func (d *deliverer) claimGroup(ctx context.Context, jobs []*job, now time.Time) (res []state.SendResult, ok bool) {
	claims := make([]state.SendClaim, len(jobs))
	for i, j := range jobs {
		claims[i] = state.SendClaim{Key: d.key(j.r), Token: j.r.token}
	}
	if !d.x.Marketing() || d.caps == nil {
		res, err := d.ledger.ClaimSends(ctx, claims, now, d.opts.Lease)
		if err != nil {
			d.fatal("claim send", err)
			return nil, false
		}
		return res, true
	}
	// Every marketing send is counted; the reservation is idempotent by
	// token, so a retried send is not counted twice.
	max := math.MaxInt32
	if d.capMax > 0 {
		max = d.capMax
	}
	reqs := make([]state.CapRequest, len(jobs))
	for i, j := range jobs {
		reqs[i] = state.CapRequest{Recipient: d.capRecipient(j.r), Channel: d.kind.Type, Max: max,
			Since: now.Add(-d.capPer), At: now, Ref: j.r.token}
	}
	var granted []bool
	if cc, both := d.caps.(capClaimer); both && any(d.caps) == any(d.ledger) {
		var err error
		if granted, res, err = cc.ReserveCapsAndClaimSends(ctx, reqs, claims, now, d.opts.Lease); err != nil {
			d.fatal("claim send", err)
			return nil, false
		}
	} else {
		var err error
		if granted, err = d.caps.ReserveCaps(ctx, reqs); err != nil {
			d.fatal("reserve cap", err)
			return nil, false
		}
		var kept []state.SendClaim
		for i, g := range granted {
			if g {
				kept = append(kept, claims[i])
			}
		}
		got, err := d.ledger.ClaimSends(ctx, kept, now, d.opts.Lease)
		if err != nil {
			d.fatal("claim send", err)
			return nil, false
		}
		res = make([]state.SendResult, len(jobs))
		for i, g := range granted {
			if g {
				res[i], got = got[0], got[1:]
			}
		}
	}
	for i, j := range jobs {
		if !granted[i] {
			d.dynSkip(ctx, j.r, ReasonCapped)
			jobs[i] = nil
			continue
		}
		j.capRef = j.r.token
	}
	return res, true
}

// groupSize is how many recipients a worker takes at once: Options.Group,
// or fewer when the slice's rate would make a group's calls outlast a
// quarter of the lease (its last claims would run out before their turn).
func (d *deliverer) groupSize() int {
	g := d.opts.Group
	if d.limiter != nil && d.limiter.Limit() != rate.Inf {
		perWorker := float64(d.limiter.Limit()) / float64(max(1, d.opts.Workers))
		g = min(g, int(perWorker*d.opts.Lease.Seconds()/4))
	}
	return max(1, g)
}

// completeAll records a group's sent messages in one ledger write, retried
// a few times.
func (d *deliverer) completeAll(ctx context.Context, jobs []*job) {
	if len(jobs) == 0 {
		return
	}
	cs := make([]state.SendCompletion, len(jobs))
	for i, j := range jobs {
		cs[i] = state.SendCompletion{Held: j.held, MessageID: j.id, Variant: d.variant(j.r)}
	}
	var res []state.SendResult
	var err error
	for i := 0; i < 3; i++ {
		if res, err = d.ledger.CompleteSends(context.WithoutCancel(ctx), cs, d.now()); err == nil {
			break
		}
		d.opts.Sleep(context.WithoutCancel(ctx), d.opts.Backoff<<i)
	}
	if err != nil {
		// Sent, but not recorded: the next attempt settles the pending entries.
		d.fatal("record sent messages", err)
		return
	}
	at := d.now()
	for i, j := range jobs {
		if res[i].Err != nil {
			d.fatal("record sent message", res[i].Err)
			continue
		}
		d.sent(j.r, j.id, cs[i].Variant, at)
	}
}

// runAll sends the recipients from in with the configured workers, then
// settles the deferred ones once their leases run out. Panics in a worker
// become errors: a broken sender never takes the process down.
func (d *deliverer) runAll(ctx context.Context, in <-chan *recipient) error {
	workers := d.opts.Workers
	if d.test {
		workers = max(workers, 2)
	}
	group := d.groupSize()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := make([]*recipient, 0, group)
			for r := range in {
				// A group is what is queued, up to Group: a worker never waits
				// for company.
				rs = append(rs[:0], r)
			more:
				for len(rs) < group {
					select {
					case r, ok := <-in:
						if !ok {
							break more
						}
						rs = append(rs, r)
					default:
						break more
					}
				}
				if d.stopped.Load() || ctx.Err() != nil {
					continue // drain: the producer never blocks
				}
				if err := d.safely(func() { d.group(ctx, rs) }); err != nil {
					d.stop(err)
				}
			}
		}()
	}
	wg.Wait()
	for round := 0; round < 3; round++ {
		d.mu.Lock()
		items := d.deferred
		d.deferred = nil
		d.mu.Unlock()
		if len(items) == 0 || d.stopped.Load() {
			break
		}
		until := d.now()
		for _, it := range items {
			until = later(until, it.until)
		}
		if !d.stopAt.IsZero() && until.After(d.stopAt) {
			// Held past this invocation: the next one settles them.
			d.stop(errOutOfTime)
			break
		}
		if err := d.opts.Sleep(ctx, until.Sub(d.now())+time.Millisecond); err != nil {
			d.stop(err)
			break
		}
		if err := d.safely(func() {
			for len(items) > 0 && !d.stopped.Load() {
				n := min(len(items), group)
				rs := make([]*recipient, n)
				for i, it := range items[:n] {
					rs[i] = it.r
				}
				items = items[n:]
				d.group(ctx, rs)
			}
		}); err != nil {
			d.stop(err)
		}
	}
	if err := d.err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if n := d.unsent.Load(); n > 0 {
		d.mu.Lock()
		cause := d.unsentCause
		d.mu.Unlock()
		return &activity.Retryable{Msg: fmt.Sprintf("%s %s: %d sends failed transiently after %d attempts each (last: %s); "+
			"the slice is retried for them with backoff, and should that keep failing the run fails and resuming it sends them, nobody twice",
			d.kind.Type, d.act, n, d.opts.MaxAttempts, cause)}
	}
	d.mu.Lock()
	left := len(d.deferred)
	d.mu.Unlock()
	if left > 0 {
		return &activity.Retryable{Msg: fmt.Sprintf("%d recipients are held by another attempt of this slice", left)}
	}
	return nil
}

// withoutAddress keeps a recipient's address out of an error that reaches
// the run's reason and logs (an SMTP reply may quote it).
func withoutAddress(msg, to string) string {
	for _, a := range []string{to, send.AddressOnly(to)} {
		if a != "" {
			msg = strings.ReplaceAll(msg, a, "<recipient>")
		}
	}
	return msg
}

func (d *deliverer) safely(fn func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s %s: panic while sending: %v\n%s", d.kind.Type, d.act, p, debug.Stack())
		}
	}()
	fn()
	return nil
}
