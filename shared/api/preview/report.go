package preview

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/state"
)

var _ api.Reporter = (*Previewer)(nil)

var viewSeq atomic.Int64

// CountChannel implements api.Reporter: sends by variant from the out
// transition, skips by reason (the text before ": ") from the skipped one,
// and the run's message_feedback events, each message once per event, by
// the variant its message was sent in.
func (p *Previewer) CountChannel(ctx context.Context, q api.ChannelQuery) (api.ChannelCounts, error) {
	cc := api.ChannelCounts{Skipped: map[string]int64{}, Variants: map[string]*api.VariantCounts{}}
	e, err := p.open()
	if err != nil {
		return cc, err
	}
	n := viewSeq.Add(1)
	out, skipped, fb := fmt.Sprintf("sw_report_out_%d", n), fmt.Sprintf("sw_report_skipped_%d", n), fmt.Sprintf("sw_report_fb_%d", n)
	defer func() {
		for _, v := range []string{out, skipped, fb} {
			e.Exec(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+dataset.QuoteIdent(v))
		}
	}()
	variant := func(name string) *api.VariantCounts {
		v := cc.Variants[name]
		if v == nil {
			v = &api.VariantCounts{Variant: name}
			cc.Variants[name] = v
		}
		return v
	}
	hasOut := false
	if q.Out != "" {
		if _, err := e.StageOwn(ctx, out, dataset.Ref(q.Out)); err != nil && !errors.Is(err, dataset.ErrNotFound) {
			return cc, fmt.Errorf("out of %s: %w", q.Activity, err)
		} else if err == nil {
			hasOut = true
			err := e.Query(ctx, 100, func(b *dataset.Batch) error {
				for _, r := range b.Rows {
					name, _ := r[0].(string)
					variant(name).Sent += dataset.Int(r[1])
				}
				return nil
			}, "SELECT coalesce(variant, ''), count(*) FROM "+dataset.QuoteIdent(out)+" GROUP BY 1")
			if err != nil {
				return cc, err
			}
		}
	}
	if q.Skipped != "" {
		if _, err := e.StageOwn(ctx, skipped, dataset.Ref(q.Skipped)); err != nil && !errors.Is(err, dataset.ErrNotFound) {
			return cc, fmt.Errorf("skipped of %s: %w", q.Activity, err)
		} else if err == nil {
			err := e.Query(ctx, 100, func(b *dataset.Batch) error {
				for _, r := range b.Rows {
					reason, _ := r[0].(string)
					cc.Skipped[reason] += dataset.Int(r[1])
				}
				return nil
			}, "SELECT CASE WHEN strpos(reason, ': ') > 0 THEN split_part(reason, ': ', 1) ELSE coalesce(reason, '') END, count(*) FROM "+
				dataset.QuoteIdent(skipped)+" GROUP BY 1")
			if err != nil {
				return cc, err
			}
		}
	}
	cur, err := tablelog.New(e.Store(), nil).CurrentTable(ctx, feedback.Table)
	if errors.Is(err, state.ErrNotFound) || cur.Ref == "" {
		return cc, nil
	}
	if err != nil {
		return cc, fmt.Errorf("%s: %w", feedback.Table, err)
	}
	if _, err := e.StageInput(ctx, fb, dataset.Ref(cur.Ref)); err != nil {
		return cc, fmt.Errorf("%s: %w", feedback.Table, err)
	}
	// A message is its messageId (an unsubscribe may carry none: its recipient).
	join := "''"
	from := dataset.QuoteIdent(fb) + " f"
	if hasOut {
		join = "coalesce(o.variant, '')"
		from += " LEFT JOIN (SELECT DISTINCT messageId, variant FROM " + dataset.QuoteIdent(out) + " WHERE messageId IS NOT NULL) o ON o.messageId = f.messageId"
	}
	err = e.Query(ctx, 100, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			name, _ := r[0].(string)
			ev, _ := r[1].(string)
			n := dataset.Int(r[2])
			v := variant(name)
			switch feedback.Event(ev) {
			case feedback.Delivered:
				v.Delivered += n
			case feedback.Bounced:
				v.Bounced += n
			case feedback.Complained:
				v.Complained += n
			case feedback.Opened:
				v.Opened += n
			case feedback.Clicked:
				v.Clicked += n
			case feedback.Unsubscribed:
				v.Unsubscribed += n
			}
		}
		return nil
	}, "SELECT "+join+", f.event, count(DISTINCT coalesce(nullif(f.messageId, ''), 'recipient:' || f.recipient)) FROM "+from+
		" WHERE f.run = ? AND f.activity = ? AND f.event IN ('delivered', 'bounced', 'complained', 'opened', 'clicked', 'unsubscribed') GROUP BY 1, 2",
		q.Run, q.Activity)
	if err != nil {
		return cc, fmt.Errorf("%s: %w", feedback.Table, err)
	}
	return cc, nil
}

// open returns the engine, opened on first use.
func (p *Previewer) open() (*dataset.Engine, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.engine == nil {
		e, err := dataset.New(p.Options)
		if err != nil {
			return nil, err
		}
		p.engine = e
	}
	return p.engine, nil
}
