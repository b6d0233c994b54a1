package channel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/send"
)

// runFinish merges the plan and the slice parts into the ports: out holds
// the input rows sent (with messageId and variant), skipped the others
// (with reason). Every planned row lands on exactly one port, or the
// finish fails. Sent messages are appended to message_feedback when the
// catalog declares it.
func runFinish(ctx context.Context, d *Deps, call *activity.Call, kind *Kind, x *Config) (*activity.Result, error) {
	req := call.Req
	t, err := datatask.Open(ctx, &d.Data, call)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	plan := dataset.Ref(planRef(req.Run.ID, req.Activity))
	pm, err := dataset.ReadManifest(ctx, t.Engine.Store(), plan)
	if errors.Is(err, dataset.ErrNotFound) {
		return nil, fmt.Errorf("finish: the plan is missing: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("finish: read the plan: %w", err)
	}
	sz, err := readSizing(ctx, t.Engine.Store(), req.Run.ID, req.Activity, x)
	if err != nil {
		return nil, err
	}
	pres, _, err := planResult(t, x, plan, pm, sz.SliceSize)
	if err != nil {
		return nil, err
	}
	return finishPlan(ctx, t, d, kind, x, pm, pres)
}

// finishPlan is the finish within task t, over the plan's manifest pm and
// its slices pres (planResult).
func finishPlan(ctx context.Context, t *datatask.Task, d *Deps, kind *Kind, x *Config, pm *dataset.Manifest, pres *activity.Result) (*activity.Result, error) {
	req := t.Req
	plan := dataset.Ref(planRef(req.Run.ID, req.Activity))
	slices := pres.Slices
	if ws, ok := pres.Extra["waves"].([]Wave); ok {
		for _, w := range ws {
			slices = append(slices, w.Slices...)
		}
	}
	var inBase *dataset.Base // the plan passes the input's rows through
	if len(req.Inputs) > 0 && req.Inputs[0].Ref != nil {
		if im, err := dataset.ReadManifest(ctx, t.Engine.Store(), dataset.Ref(*req.Inputs[0].Ref)); err == nil {
			inBase = im.Base
		}
	}
	// Over a narrow plan of the same base, out and skipped pass its rows
	// through without joining the base (see dataset.StagePassThrough).
	pv, stage, write := t.View("plan"), t.Engine.StageInput, t.WriteOver
	if inBase != nil && pm.Base != nil && pm.Base.Ref == inBase.Ref {
		stage, write = t.Engine.StagePassThrough, t.WriteThrough
	}
	if _, err := stage(ctx, pv, plan); err != nil {
		return nil, err
	}
	parts := "SELECT CAST(NULL AS BIGINT) AS _sw_row, CAST(NULL AS VARCHAR) AS status, CAST(NULL AS VARCHAR) AS messageId, " +
		"CAST(NULL AS VARCHAR) AS variant, CAST(NULL AS VARCHAR) AS reason, CAST(NULL AS VARCHAR) AS recipient, " +
		"CAST(NULL AS VARCHAR) AS address, CAST(NULL AS VARCHAR) AS token, CAST(NULL AS TIMESTAMPTZ) AS sentAt WHERE false"
	for _, sl := range slices {
		v := t.View(fmt.Sprintf("part%d", sl.Index))
		if _, err := t.Engine.StageDataset(ctx, v, dataset.Ref(partRef(req.Run.ID, req.Activity, sl.Index))); err != nil {
			if errors.Is(err, dataset.ErrNotFound) {
				return nil, &activity.InvalidInput{Msg: fmt.Sprintf("finish: slice %d was not sent (no part)", sl.Index)}
			}
			return nil, err
		}
		parts += " UNION ALL SELECT _sw_row, status, messageId, variant, reason, recipient, address, token, sentAt FROM " + datatask.Q(v)
	}
	partsView := t.View("parts")
	if err := t.Engine.Exec(ctx, "CREATE OR REPLACE VIEW "+datatask.Q(partsView)+" AS "+parts); err != nil {
		return nil, err
	}
	in := recipientSchema(pm)
	sel := func(drop ...string) string {
		var cols []string
		for _, c := range in.Columns {
			skip := false
			for _, d := range drop {
				skip = skip || c.Name == d
			}
			if !skip {
				cols = append(cols, "p."+datatask.Q(c.Name))
			}
		}
		return strings.Join(cols, ", ")
	}
	join := " FROM " + datatask.Q(pv) + " AS p LEFT JOIN " + datatask.Q(partsView) + " AS s ON s._sw_row = p." + colRow
	sent := "s.status = 'sent'"
	if req.Run.Test {
		sent = "coalesce(s.status, 'sent') = 'sent'" // a test part keeps no plain send (partRows)
	}
	res := activity.NewResult([]string{"out", "skipped"})
	outCols := sel("messageId", "variant")
	if outCols != "" {
		outCols += ", "
	}
	out, err := write(res, "out", pm.Dimension, pm.Key, passed(inBase, "messageId", "variant"), "SELECT "+outCols+"NULLIF(s.messageId, '') AS messageId, NULLIF(s.variant, '') AS variant"+
		join+" WHERE p."+colSkip+" IS NULL AND "+sent+" ORDER BY p."+colRow)
	if err != nil {
		return nil, err
	}
	skCols := sel("reason")
	if skCols != "" {
		skCols += ", "
	}
	skipped, err := write(res, "skipped", pm.Dimension, pm.Key, passed(inBase, "reason"), "SELECT "+skCols+"coalesce(p."+colSkip+", s.reason) AS reason"+
		join+" WHERE p."+colSkip+" IS NOT NULL OR s.status = 'skipped' ORDER BY p."+colRow)
	if err != nil {
		return nil, err
	}
	if out.Rows+skipped.Rows != pm.Rows {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("finish: %d planned rows but %d sent and %d skipped", pm.Rows, out.Rows, skipped.Rows)}
	}
	if err := mergeProofs(t, slices); err != nil {
		return nil, err
	}
	if !req.Run.Test {
		if err := recordSent(t, kind, partsView, d.Sender); err != nil {
			return nil, err
		}
	}
	logFinish(t, res)
	return res, nil
}

// recordSent appends the slice parts' sent messages to message_feedback
// when the catalog declares the table. Event ids are the ledger tokens: a
// retried finish adds nothing twice.
func recordSent(t *datatask.Task, kind *Kind, parts string, sender send.Sender) error {
	if _, ok := t.Comp.Catalog.Table(feedback.Table); !ok {
		return nil
	}
	c, r := t.Comp.Campaign, t.Req
	q := "SELECT 'sent:' || token AS eventId, 'sent' AS event, ? AS channel, ? AS campaign, ? AS activity, ? AS run, recipient, address, " +
		"messageId, token, sentAt AS at, ? AS detail, false AS permanent, false AS machine FROM " + datatask.Q(parts) + " WHERE status = 'sent'"
	_, err := feedback.AppendQuery(t.Ctx, t.Warehouse(), t.Tables(), t.Env.Now(), q, kind.Type, c.ID, r.Activity, r.Run.ID, providerOf(sender))
	if err != nil {
		return fmt.Errorf("message_feedback: %w", err) // a lost race is a Conflict
	}
	return nil
}

func providerOf(s send.Sender) string {
	if l, ok := s.(*send.Limited); ok {
		return l.Account
	}
	return ""
}

func logFinish(t *datatask.Task, res *activity.Result) {
	reasons := map[string]int64{}
	v := t.View("skipped")
	if _, err := t.Engine.StageOwn(t.Ctx, v, dataset.Ref(*res.Ports["skipped"])); err == nil {
		t.Engine.Query(t.Ctx, 100, func(b *dataset.Batch) error {
			for _, r := range b.Rows {
				s, _ := r[0].(string)
				reasons[s] = dataset.Int(r[1])
			}
			return nil
		}, "SELECT CASE WHEN strpos(reason, ': ') > 0 THEN split_part(reason, ': ', 1) ELSE reason END, count(*) FROM "+datatask.Q(v)+" GROUP BY 1 ORDER BY 1")
	}
	var parts []string
	for k, n := range reasons {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
	}
	verb := "sent"
	if t.Req.Run.Test {
		verb = "would send"
	}
	t.Logf("%s %d, %s", verb, res.Counts["out"], skippedText(res.Counts["skipped"], sortStrings(parts)))
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// passed is the input's base without the columns an output replaces: the
// others are passed through from the input by the plan.
func passed(base *dataset.Base, replaced ...string) *dataset.Base {
	if base == nil {
		return nil
	}
	b := &dataset.Base{Ref: base.Ref}
	for _, c := range base.Columns {
		if !slices.Contains(replaced, c) {
			b.Columns = append(b.Columns, c)
		}
	}
	return b
}
