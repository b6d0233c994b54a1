package api

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Reporter counts one run's messages of one channel activity: sends by
// variant (the out transition), skips by reason (the skipped transition) and
// the message_feedback events of the run's messages. The Previewer provides
// it when it can.
type Reporter interface {
	CountChannel(ctx context.Context, q ChannelQuery) (ChannelCounts, error)
}

// ChannelQuery is what CountChannel counts: the activity of a run and the
// datasets of its out and skipped transitions ("" when not written).
type ChannelQuery struct {
	Run, Activity string
	Out, Skipped  string
}

// Report counts what a campaign's channel activities sent and what came back
// of it (message_feedback), per run and across runs.
type Report struct {
	CampaignID string `json:"campaignId"`
	// Run is the one run reported, when one was asked for.
	Run        string           `json:"run,omitempty"`
	Activities []ActivityReport `json:"activities"`
}

// ActivityReport is one channel activity: its counts in each run (newest
// first) and their total over the runs that were not test runs.
type ActivityReport struct {
	Activity string `json:"activity"`
	Channel  string `json:"channel" jsonschema:"enum=email,enum=sms,enum=push"`
	// Variants are the experiment's variants, in the document's order; Holdout its holdout share.
	Variants []string    `json:"variants,omitempty"`
	Holdout  string      `json:"holdout,omitempty"`
	Total    Counts      `json:"total" jsonschema:"description=sum over the runs listed that are not test runs"`
	Runs     []RunCounts `json:"runs"`
}

// RunCounts are an activity's counts in one run.
type RunCounts struct {
	RunID     string    `json:"runId"`
	Test      bool      `json:"test"`
	Status    string    `json:"status"`
	StartedAt time.Time `json:"startedAt"`
	Counts    Counts    `json:"counts"`
}

// Counts are messages of a channel activity: sent (would send, in a test
// run) and skipped recipients, and of the messages sent, how many were
// delivered, bounced, complained of, opened, clicked and unsubscribed from
// (each message counted once per event, however often the event came).
type Counts struct {
	Figures
	// SkippedBy counts skips by reason (holdout is one), by reason.
	SkippedBy []ReasonCount `json:"skippedBy"`
	// Variants are the counts of each experiment variant; "holdout" the
	// recipients held out (skipped, never sent).
	Variants []VariantCounts `json:"variants,omitempty"`
}

// ReasonCount is how many recipients were skipped for a reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// VariantCounts are the messages of one experiment variant.
type VariantCounts struct {
	Variant string `json:"variant"`
	Figures
}

// Figures are the message counts a report shows for an activity or a variant.
type Figures struct {
	Sent         int64 `json:"sent"`
	Skipped      int64 `json:"skipped"`
	Delivered    int64 `json:"delivered"`
	Bounced      int64 `json:"bounced"`
	Complained   int64 `json:"complained"`
	Opened       int64 `json:"opened"`
	Clicked      int64 `json:"clicked"`
	Unsubscribed int64 `json:"unsubscribed"`
}

// add adds g to f; skipped only when withSkipped (a run's total skips are
// counted by reason, not from its variants).
func (f *Figures) add(g Figures, withSkipped bool) {
	f.Sent += g.Sent
	if withSkipped {
		f.Skipped += g.Skipped
	}
	f.Delivered += g.Delivered
	f.Bounced += g.Bounced
	f.Complained += g.Complained
	f.Opened += g.Opened
	f.Clicked += g.Clicked
	f.Unsubscribed += g.Unsubscribed
}

// ChannelCounts is what a Reporter counts of one run's activity.
type ChannelCounts struct {
	// Skipped by reason; Variants by variant name ("" for none).
	Skipped  map[string]int64
	Variants map[string]*VariantCounts
}

// HoldoutVariant names the holdout among an experiment's variants.
const HoldoutVariant = "holdout"

// reportRuns bounds the runs a campaign report reads (the newest).
const reportRuns = 50

// channelDoc is what a report needs of a campaign document's channel activities.
type channelDoc struct {
	id, typ  string
	variants []string
	holdout  string
}

// channelDocs reads the channel activities of a document, in order.
func channelDocs(id string, doc []byte) []channelDoc {
	c, _ := campaign.ParseCampaign(docName(id, doc), doc)
	if c == nil {
		return nil
	}
	var out []channelDoc
	for _, a := range c.Activities {
		if _, ok := channel.Kinds[a.Type]; !ok {
			continue
		}
		d := channelDoc{id: a.ID, typ: a.Type}
		var x struct {
			Experiment *struct {
				Holdout  string `yaml:"holdout"`
				Variants []struct {
					Name string `yaml:"name"`
				} `yaml:"variants"`
			} `yaml:"experiment"`
		}
		if a.Node != nil && a.Node.Decode(&x) == nil && x.Experiment != nil {
			d.holdout = x.Experiment.Holdout
			for _, v := range x.Experiment.Variants {
				d.variants = append(d.variants, v.Name)
			}
		}
		out = append(out, d)
	}
	return out
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) *Error {
	id, e := campaignID(r)
	if e != nil {
		return e
	}
	ctx := r.Context()
	c, err := s.o.Store.GetCampaign(ctx, id)
	if err != nil {
		return storeError(err, "campaign "+id)
	}
	rep, ok := s.o.Previewer.(Reporter)
	if !ok {
		return fail(http.StatusNotImplemented, codeUnsupported, "reports are not available here")
	}
	var runs []state.Run
	one := r.URL.Query().Get("run")
	if one != "" {
		if !validRunID(one) {
			return fail(http.StatusBadRequest, codeInvalidID, "invalid run id").at("run")
		}
		run, err := s.o.Store.GetRun(ctx, one)
		if err != nil || run.CampaignID != id {
			return fail(http.StatusNotFound, codeNotFound, "run %s of campaign %s not found", one, id)
		}
		runs = []state.Run{run}
	} else if runs, _, err = s.o.Store.ListRuns(ctx, id, state.Page{Limit: reportRuns}); err != nil {
		return storeError(err, "runs")
	}
	// The channel activities: the draft's, then those only older versions had.
	docs := map[int][]channelDoc{0: channelDocs(id, c.Draft)}
	out := Report{CampaignID: id, Run: one, Activities: []ActivityReport{}}
	index := map[string]int{}
	add := func(d channelDoc) *ActivityReport {
		i, ok := index[d.id]
		if !ok {
			i = len(out.Activities)
			index[d.id] = i
			out.Activities = append(out.Activities, ActivityReport{Activity: d.id, Channel: d.typ, Variants: d.variants, Holdout: d.holdout, Runs: []RunCounts{}})
		}
		return &out.Activities[i]
	}
	for _, d := range docs[0] {
		add(d)
	}
	for _, run := range runs {
		ds, ok := docs[run.Version]
		if !ok {
			if v, err := s.o.Store.GetVersion(ctx, id, run.Version); err == nil {
				ds = channelDocs(id, v.Document)
			}
			docs[run.Version] = ds
		}
		tasks, err := s.o.Store.ListTasks(ctx, run.ID)
		if err != nil {
			return storeError(err, "tasks of run "+run.ID)
		}
		for _, d := range ds {
			i := slices.IndexFunc(tasks, func(t state.Task) bool { return t.Activity == d.id })
			if i < 0 || tasks[i].Status != state.TaskSucceeded {
				continue // not sent in this run
			}
			t := tasks[i]
			cc, err := rep.CountChannel(ctx, ChannelQuery{Run: run.ID, Activity: d.id, Out: t.Outputs["out"], Skipped: t.Outputs["skipped"]})
			if err != nil {
				if ctx.Err() != nil {
					return cancelled(ctx)
				}
				return storeError(err, "counts of "+d.id+" in run "+run.ID)
			}
			a := add(d)
			counts := cc.counts(a.Variants)
			a.Runs = append(a.Runs, RunCounts{RunID: run.ID, Test: run.Test, Status: string(run.Status), StartedAt: run.StartedAt, Counts: counts})
			if !run.Test {
				a.Total = a.Total.plus(counts)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// counts orders a run's counts: reasons by name, variants in the
// experiment's order (others after, by name), the holdout last.
func (cc ChannelCounts) counts(order []string) Counts {
	var c Counts
	c.SkippedBy = []ReasonCount{}
	for reason, n := range cc.Skipped {
		c.Skipped += n
		c.SkippedBy = append(c.SkippedBy, ReasonCount{Reason: reason, Count: n})
	}
	sort.Slice(c.SkippedBy, func(i, j int) bool { return c.SkippedBy[i].Reason < c.SkippedBy[j].Reason })
	names := make([]string, 0, len(cc.Variants))
	for name := range cc.Variants {
		names = append(names, name)
	}
	rank := func(n string) int {
		if n == HoldoutVariant {
			return len(order) + 1
		}
		if i := slices.Index(order, n); i >= 0 {
			return i
		}
		return len(order)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		if ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		v := cc.Variants[name]
		c.add(v.Figures, false)
		if name != "" {
			vc := *v
			vc.Variant = name
			c.Variants = append(c.Variants, vc)
		}
	}
	if n := cc.Skipped[channel.ReasonHoldout]; n > 0 && len(order) > 0 {
		c.Variants = append(c.Variants, VariantCounts{Variant: HoldoutVariant, Figures: Figures{Skipped: n}})
	}
	return c
}

// plus adds two runs' counts.
func (c Counts) plus(d Counts) Counts {
	c.add(d.Figures, true)
	c.SkippedBy = mergeReasons(c.SkippedBy, d.SkippedBy)
	for _, v := range d.Variants {
		i := slices.IndexFunc(c.Variants, func(x VariantCounts) bool { return x.Variant == v.Variant })
		if i < 0 {
			c.Variants = append(c.Variants, v)
			continue
		}
		c.Variants[i].add(v.Figures, true)
	}
	return c
}

func mergeReasons(a, b []ReasonCount) []ReasonCount {
	out := slices.Clone(a)
	if out == nil {
		out = []ReasonCount{}
	}
	for _, r := range b {
		if i := slices.IndexFunc(out, func(x ReasonCount) bool { return x.Reason == r.Reason }); i >= 0 {
			out[i].Count += r.Count
		} else {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}
