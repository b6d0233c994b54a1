package channel

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/state"
)

// runSend sends one slice of the plan and writes its part: one row per
// planned row of the slice, sent (message id, variant) or skipped (reason).
// A slice whose part exists is done; otherwise every attempt goes through
// the ledger, so a retried slice sends nobody twice and settles everyone.
func runSend(ctx context.Context, d *Deps, call *activity.Call, kind *Kind, x *Config) (*activity.Result, error) {
	env, req := call.Env, call.Req
	if req.Slice == nil {
		return nil, &activity.InvalidInput{Msg: "send phase without a slice"}
	}
	// Measured first: the invocation's deadline, less a margin, is when the
	// slice stops sending and hands its remainder on.
	stopAt, callsUntil := sliceStops(ctx, env, d.options())
	t, err := datatask.Open(ctx, &d.Data, call)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	return sendSlice(ctx, t, d, kind, x, *req.Slice, stopAt, callsUntil)
}

// sendSlice sends one slice of the plan within task t (see runSend); stopAt
// and callsUntil are the invocation's (sliceStops).
func sendSlice(ctx context.Context, t *datatask.Task, d *Deps, kind *Kind, x *Config, sl activity.Slice, stopAt, callsUntil time.Time) (*activity.Result, error) {
	req := t.Req
	store := t.Engine.Store()
	pref := dataset.Ref(partRef(req.Run.ID, req.Activity, sl.Index))
	if _, err := dataset.ReadManifest(ctx, store, pref); err == nil {
		return partResult(t, pref, sl)
	} else if !errors.Is(err, dataset.ErrNotFound) {
		return nil, err
	}
	plan := dataset.Ref(planRef(req.Run.ID, req.Activity))
	pm, err := dataset.ReadManifest(ctx, store, plan)
	if err != nil {
		return nil, fmt.Errorf("read the plan: %w", err)
	}
	dl, err := newDeliverer(t, d, kind, x, pm)
	if err != nil {
		return nil, err
	}
	dl.stopAt, dl.callsUntil = stopAt, callsUntil
	dl.outcomes = make([]outcome, sl.Count)
	// The rows earlier invocations settled before their time ran out.
	from, err := readPieces(t, sl, dl.outcomes)
	if err != nil {
		return nil, err
	}
	if !dl.test {
		if err := dl.markAttempt(ctx, t, sl.Index); err != nil {
			return nil, err
		}
		if err := dl.setLimiter(t, x, plan, sl); err != nil {
			return nil, err
		}
	}
	if from < sl.Offset+sl.Count { // else the pieces hold every row (Limit 0 would read on)
		err = dl.sendSlice(ctx, t, plan, pm, sl, from)
	}
	if errors.Is(err, errOutOfTime) {
		res, herr := dl.handOn(ctx, t, pm, sl, from)
		if res != nil || herr != nil {
			return res, herr
		}
		err = nil // every row settled just in time
	}
	if err != nil {
		return nil, err
	}
	for i, o := range dl.outcomes {
		if o.Status == "" {
			return nil, &activity.Retryable{Msg: fmt.Sprintf("slice %d: row %d was not settled", sl.Index, sl.Offset+int64(i))}
		}
	}
	if err := dl.writeSliceProofs(t, sl.Index); err != nil {
		return nil, err
	}
	if _, err := writePart(t, pref, pm.CreatedAt, partRows(dl.outcomes, dl.test)); err != nil {
		return nil, err
	}
	sent := logSlice(ctx, t, sl, dl.outcomes)
	res := activity.NewResult([]string{"out", "skipped"})
	res.Counts["out"], res.Counts["skipped"] = int64(sent), int64(len(dl.outcomes)-sent)
	return res, nil
}

func newDeliverer(t *datatask.Task, deps *Deps, kind *Kind, x *Config, pm *dataset.Manifest) (*deliverer, error) {
	env, req := t.Env, t.Req
	d := &deliverer{kind: kind, x: x, opts: deps.options(), keys: deps.Keys, sup: deps.Suppressions, test: req.Run.Test, run: req.Run.ID, act: req.Activity,
		dimension: pm.Dimension, now: env.Now, quiet: newQuiet(x.QuietHours), maxErrors: DefaultMaxErrors}
	if x.MaxErrors > 0 {
		d.maxErrors = int64(x.MaxErrors)
	}
	d.caps = deps.Caps
	if x.Window != "" {
		w, err := campaign.ParseDuration(x.Window)
		if err != nil {
			return nil, &activity.InvalidInput{Msg: "window: " + err.Error()}
		}
		d.windowEnd = pm.CreatedAt.Add(w)
	}
	if c := x.Capping; c != nil && x.Marketing() {
		per, err := campaign.ParseDuration(c.Per)
		if err != nil {
			return nil, &activity.InvalidInput{Msg: "capping: " + err.Error()}
		}
		d.capMax, d.capPer = c.Max, per
	}
	if !d.test {
		if d.ledger = deps.Ledger; d.ledger == nil {
			return nil, &activity.InvalidInput{Msg: "the state store has no send ledger"}
		}
		if x.Marketing() && d.caps == nil {
			return nil, &activity.InvalidInput{Msg: "the state store does not count sends (caps)"}
		}
		s := deps.Sender
		if s == nil {
			return nil, &activity.InvalidInput{Msg: "no sender is configured"}
		}
		d.sender = s
		d.canFind = send.CanFind(s, kind.Type)
		d.idempotent = send.IsIdempotent(s, kind.Type)
		d.groups = send.GroupOf(s, kind.Type)
	} else if d.capMax > 0 && d.caps == nil {
		d.capMax = 0
	}
	prep, err := prepare(env, t.Comp, req.Activity, x)
	if err != nil {
		return nil, err
	}
	d.prep = prep
	links := deps.Links
	if links == nil && x.Marketing() && kind.Type == send.Email {
		if !d.test {
			return nil, &activity.InvalidInput{Msg: "marketing email needs one-click unsubscribe links: configure the unsubscribe secret and public URL"}
		}
		links = SignedLinks{BaseURL: "https://unsubscribe.invalid", Secret: []byte("test-mode-placeholder-secret")}
	}
	d.rn = newRenderer(kind, x, t.Comp, req, recipientSchema(pm), links, pm.CreatedAt)
	return d, nil
}

// markAttempt records that the slice ran; a second attempt is a retry.
func (d *deliverer) markAttempt(ctx context.Context, t *datatask.Task, index int) error {
	keys := d.keys
	if keys == nil {
		d.retry = true
		return nil
	}
	now := t.Env.Now()
	_, created, err := keys.PutKey(ctx, state.Key{Key: sliceMarker(d.run, d.act, index), Value: "attempted",
		CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)})
	if err != nil {
		return fmt.Errorf("mark the slice: %w", err)
	}
	d.retry = !created
	return nil
}

// setLimiter gives the slice its share of the activity's rate: the slices
// of one wave send at once, up to the activity's concurrency.
func (d *deliverer) setLimiter(t *datatask.Task, x *Config, plan dataset.Ref, sl activity.Slice) error {
	if x.Rate <= 0 {
		return nil
	}
	sz, err := readSizing(t.Ctx, t.Engine.Store(), t.Req.Run.ID, t.Req.Activity, x)
	if err != nil {
		return err
	}
	view := t.View("plan")
	if _, err := t.Engine.StageOwn(t.Ctx, view, plan); err != nil {
		return fmt.Errorf("read the plan: %w", err)
	}
	row, err := t.Engine.QueryRow(t.Ctx, "SELECT count(*) FROM "+datatask.Q(view)+" WHERE "+colSkip+" IS NULL AND "+colWave+
		" = (SELECT "+colWave+" FROM "+datatask.Q(view)+" WHERE "+colRow+" = ?)", sl.Offset)
	if err != nil {
		return fmt.Errorf("read the plan: %w", err)
	}
	slices := int(math.Ceil(float64(dataset.Int(row[0])) / float64(sz.SliceSize)))
	share := x.Rate / float64(max(1, min(concurrency(x), slices)))
	lim, burst := send.Rate(share)
	d.limiter = rate.NewLimiter(lim, burst)
	return nil
}

// recipientSchema is the input's columns: the plan's without its own.
func recipientSchema(pm *dataset.Manifest) campaign.Schema {
	s := campaign.Schema{Dimension: pm.Dimension}
	for _, c := range pm.Columns {
		if !strings.HasPrefix(c.Name, "_sw_") {
			s.Columns = append(s.Columns, c)
		}
	}
	return s
}

var errStopped = errors.New("stopped")

// readColumns is what a slice reads of the plan: the key, the plan's columns
// and the recipient columns the templates use (nil: all of them). Reading
// only those keeps wide populations cheap to stream.
func (d *deliverer) readColumns(pm *dataset.Manifest) []string {
	used, all := d.prep.recipientColumns()
	if all {
		return nil
	}
	want := map[string]bool{}
	for _, c := range append(append(used, pm.Key...), planColumns...) {
		want[c] = true
	}
	var cols []string
	for _, c := range pm.Columns {
		if want[c.Name] {
			cols = append(cols, c.Name)
		}
	}
	return cols
}

// sendSlice streams the slice's rows from from on (those before were
// settled by earlier invocations) to the workers, applying the static checks
// and the suppression list batch by batch.
func (d *deliverer) sendSlice(ctx context.Context, t *datatask.Task, plan dataset.Ref, pm *dataset.Manifest, sl activity.Slice, from int64) error {
	sup := d.sup
	def := t.Location()
	zones := map[string]*time.Location{}
	// Room for a few batches ahead of the workers: each queued recipient holds
	// its row, so a deeper queue only grows the heap.
	work := make(chan *recipient, d.opts.Workers*d.opts.Group+1024)
	done := make(chan error, 1)
	go func() { done <- d.runAll(ctx, work) }()
	keyCols := pm.Key
	idx := int(from - sl.Offset)
	var cbErr error // the callback's own failure, returned as it is
	_, err := t.Engine.Stream(ctx, plan, dataset.StreamOptions{Columns: d.readColumns(pm), Offset: from, Limit: sl.Offset + sl.Count - from, BatchSize: 512}, func(b *dataset.Batch) error {
		if d.stopped.Load() || d.timeUp() {
			return errStopped
		}
		col := map[string]int{}
		for i, c := range b.Columns {
			col[c.Name] = i
		}
		var batch []*recipient
		for _, row := range b.Rows {
			r := &recipient{idx: idx}
			idx++
			r.row = dataset.Int(row[col[colRow]])
			r.address, _ = row[col[colAddress]].(string)
			r.address = strings.TrimSpace(r.address)
			r.consent, _ = row[col[colConsent]].(bool)
			tz, _ := row[col[colTZ]].(string)
			r.loc = location(tz, def, zones)
			r.wave, _ = row[col[colWave]].(time.Time)
			r.key = recipientKey(row, col, keyCols)
			if s, _ := row[col[colSkip]].(string); s != "" {
				d.skip(r, s) // not in slices; kept for safety
				continue
			}
			if r.row != sl.Offset+int64(r.idx) {
				cbErr = &activity.Retryable{Msg: fmt.Sprintf("slice %d: plan row %d at position %d: the plan is not in row order", sl.Index, r.row, r.idx)}
				return cbErr
			}
			r.assign = assign(d.x.Experiment, d.run, r.key)
			if reason := d.static(r); reason != "" {
				d.skip(r, reason)
				continue
			}
			r.values = d.valuesMap(len(b.Columns))
			for i, c := range b.Columns {
				if !strings.HasPrefix(c.Name, "_sw_") {
					r.values[c.Name] = row[i]
				}
			}
			batch = append(batch, r)
		}
		if sup != nil && len(batch) > 0 {
			addrs := make([]string, len(batch))
			for i, r := range batch {
				addrs[i] = r.address
			}
			found, err := sup.CheckSuppressed(ctx, d.kind.Type, addrs...)
			if err != nil {
				cbErr = fmt.Errorf("read the suppression list: %w", err)
				return cbErr
			}
			for i := 0; i < len(batch) && len(found) > 0; i++ {
				r := batch[i]
				if s, ok := found[state.NormalizeAddress(d.kind.Type, r.address)]; ok && d.suppresses(s) {
					r.suppressed = true
				}
			}
		}
		for _, r := range batch {
			select {
			case work <- r:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	close(work)
	werr := <-done
	if werr != nil {
		return werr
	}
	if err != nil && !errors.Is(err, errStopped) {
		if cbErr != nil || errors.Is(err, context.Canceled) {
			return err
		}
		return fmt.Errorf("read the slice: %w", err)
	}
	if idx != int(sl.Count) {
		return &activity.Retryable{Msg: fmt.Sprintf("slice %d: read %d rows of %d", sl.Index, idx, sl.Count)}
	}
	return nil
}

// suppresses tells whether a suppression applies: every reason for
// marketing; for transactional messages only hard bounces (an unsubscribe
// or a complaint about newsletters does not stop a receipt).
func (d *deliverer) suppresses(s state.Suppression) bool {
	return d.x.Marketing() || s.Reason == state.SuppressHardBounce
}

// recipientKey formats the key columns of a row: one value as is, several
// joined with "|".
func recipientKey(row []any, col map[string]int, key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		j, ok := col[k]
		if !ok {
			continue
		}
		switch v := row[j].(type) {
		case string:
			parts[i] = v
		case int64:
			parts[i] = strconv.FormatInt(v, 10)
		case time.Time:
			parts[i] = v.UTC().Format(time.RFC3339Nano)
		case nil:
		default:
			parts[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(parts, "|")
}

// writePart stores the outcomes of a slice as its part dataset.
func writePart(t *datatask.Task, ref dataset.Ref, at time.Time, outs []outcome) (*dataset.Manifest, error) {
	str := func(s string) driver.Value {
		if s == "" {
			return nil
		}
		return s
	}
	m, err := t.Engine.WriteRows(t.Ctx, dataset.Output{Ref: ref, CreatedAt: at}, partColumns, len(outs), func(i int, dst []driver.Value) {
		o := &outs[i]
		dst[0], dst[1], dst[2], dst[3], dst[4] = o.Row, o.Status, str(o.MessageID), str(o.Variant), str(o.Reason)
		dst[5], dst[6], dst[7] = o.Recipient, str(o.Address), str(o.Token)
		if o.SentAt != nil {
			dst[8] = o.SentAt.UTC()
		}
	}, "") // outs are in row order, and the appender keeps it
	if err != nil {
		return nil, fmt.Errorf("write the slice part: %w", err)
	}
	return m, nil
}

// partColumns are the columns of a part.
var partColumns = []dataset.Column{
	{Name: "_sw_row", Type: campaign.TypeInteger}, {Name: "status", Type: campaign.TypeString},
	{Name: "messageId", Type: campaign.TypeString}, {Name: "variant", Type: campaign.TypeString},
	{Name: "reason", Type: campaign.TypeString}, {Name: "recipient", Type: campaign.TypeString},
	{Name: "address", Type: campaign.TypeString}, {Name: "token", Type: campaign.TypeString},
	{Name: "sentAt", Type: campaign.TypeTimestamp},
}

// partRows are the outcomes a slice's part keeps. A live part keeps every
// row (the finish records each message sent). A test run's keeps only what
// the finish cannot infer, the skipped rows and those with a variant: its
// slice settles every row before the part is written, so a planned row with
// no outcome would have been sent. A test part is a fraction of the rows,
// and the finish joins that fraction.
func partRows(outs []outcome, test bool) []outcome {
	if !test {
		return outs
	}
	var kept []outcome
	for _, o := range outs {
		if o.Status != statusSent || o.MessageID != "" || o.Variant != "" {
			kept = append(kept, o)
		}
	}
	return kept
}

// partResult is a send phase's result: counts only (the part is found by
// its deterministic ref). A test run's part leaves out the rows sent
// plainly (partRows): the slice's other rows.
func partResult(t *datatask.Task, ref dataset.Ref, sl activity.Slice) (*activity.Result, error) {
	res := activity.NewResult([]string{"out", "skipped"})
	view := t.View("part")
	if _, err := t.Engine.StageDataset(t.Ctx, view, ref); err != nil {
		return nil, err
	}
	row, err := t.Engine.QueryRow(t.Ctx, "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'skipped'), count(*) FROM "+datatask.Q(view))
	if err != nil {
		return nil, err
	}
	res.Counts["out"], res.Counts["skipped"] = dataset.Int(row[0]), dataset.Int(row[1])
	if t.Req.Run.Test {
		res.Counts["out"] += sl.Count - dataset.Int(row[2])
	}
	return res, nil
}

// logSlice logs a slice's counts by reason and returns the number sent.
func logSlice(ctx context.Context, t *datatask.Task, sl activity.Slice, outs []outcome) int {
	sent := 0
	reasons := map[string]int{}
	for _, o := range outs {
		if o.Status == statusSent {
			sent++
		} else {
			r := o.Reason
			if i := strings.Index(r, ": "); i > 0 {
				r = r[:i]
			}
			reasons[r]++
		}
	}
	var parts []string
	for _, r := range campaign.SortedKeys(reasons) {
		parts = append(parts, fmt.Sprintf("%s %d", r, reasons[r]))
	}
	sort.Strings(parts)
	verb := "sent"
	if t.Req.Run.Test {
		verb = "would send"
	}
	t.Logf("slice %d: %d rows, %s %d, %s", sl.Index, len(outs), verb, sent, skippedText(int64(len(outs)-sent), parts))
	return sent
}
