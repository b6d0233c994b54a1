package targeting

import (
	"errors"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// SaveAudienceConfig saves a population as a named audience.
type SaveAudienceConfig struct {
	Audience string   `json:"audience" jsonschema:"required"`
	Fields   []string `json:"fields,omitempty" jsonschema:"description=columns kept besides the key; default all"`
}

// AudienceName lets read-audience in the same campaign know the schema.
func (x *SaveAudienceConfig) AudienceName() string { return x.Audience }

// saveAudience is the save-audience type.
func saveAudience(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[SaveAudienceConfig]{
		Type: "save-audience", Family: activity.Targeting, Function: "SaveAudience",
		Summary: "Saves the population as a new version of a named audience.",
		Inputs:  activity.Inputs{Min: 1, Max: 1},
		Check: func(c *activity.Check, x *SaveAudienceConfig) {
			if !audienceNameRe(x.Audience) {
				c.Errorf(c.Path("audience"), "audience name %q must match [a-zA-Z0-9_-]{1,64}", x.Audience)
			}
			c.RequireColumns(c.Input(0), x.Fields, c.Path("fields"))
		},
		Output:   activity.SameInput[SaveAudienceConfig]("out"),
		Run:      run(d, runSaveAudience),
		Describe: describeSaveAudience,
	})
}

func audienceNameRe(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// save-audience: in a live run, writes the population's key and fields (one
// row per key) under audiences/<name>/<run>-<activity> and records it as the
// audience's new current version; a retried task finds that ref in the
// history and does not add a second version. In a test run nothing is
// written or recorded. Either way `out` carries the inbound population.
func runSaveAudience(t *task, x *SaveAudienceConfig) (*activity.Result, error) {
	ins, err := t.inputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	res := t.result()
	if !in.Active {
		return res, nil
	}
	res.Set("out", *t.Req.Inputs[0].Ref, in.Count)
	if len(in.Key) == 0 {
		return nil, invalid("save-audience needs rows with a key (a population of a catalog table)")
	}
	cols := append([]campaign.Column(nil), colsNamed(in.Key)...)
	fields := x.Fields
	if len(fields) == 0 {
		fields = in.Schema().ColumnNames()
	}
	for _, f := range fields {
		if !in.has(f) {
			return nil, invalid("fields: unknown column %q", f)
		}
		if !containsCol(cols, f) {
			cols = append(cols, campaign.Column{Name: f})
		}
	}
	if t.Req.Run.Test {
		res.Extra = map[string]any{"test": true, "audience": x.Audience}
		t.Logf("test mode: audience %s not saved (%d rows)", x.Audience, in.Count)
		return res, nil
	}
	st := t.deps.Audiences
	if st == nil {
		return nil, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	ref := blob.Join("audiences", x.Audience, t.Req.Run.ID+"-"+t.Req.Activity)
	hist, err := st.AudienceHistory(t.Ctx, x.Audience)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, fmt.Errorf("read audience history: %w", err)
	}
	for _, a := range hist {
		if a.Ref == ref {
			res.Extra = map[string]any{"audience": a.Name, "version": a.Version, "count": a.Count}
			return res, nil
		}
	}
	query := "SELECT " + selectCols("", cols) + " FROM (SELECT t.*, row_number() OVER (PARTITION BY " + selectCols("t", colsNamed(in.Key)) +
		" ORDER BY " + order("t", in) + ") AS " + q(rnCol) + " FROM " + q(in.View) + " AS t) WHERE " + q(rnCol) + " = 1 ORDER BY " +
		selectCols("", colsNamed(in.Key))
	m, err := t.Engine.Write(t.Ctx, dataset.Output{Ref: dataset.Ref(ref), Dimension: in.Dimension, Key: in.Key, CreatedAt: t.Now()}, query)
	if err != nil {
		return nil, fmt.Errorf("write audience %s: %w", x.Audience, err)
	}
	a, err := st.SaveAudience(t.Ctx, state.Audience{Name: x.Audience, Ref: ref, Count: m.Rows, Dimension: in.Dimension,
		RunID: t.Req.Run.ID, SavedAt: t.Env.Now()})
	if err != nil {
		return nil, fmt.Errorf("save audience: %w", err)
	}
	t.Logf("audience %s version %d: %d rows", a.Name, a.Version, a.Count)
	res.Extra = map[string]any{"audience": a.Name, "version": a.Version, "count": a.Count}
	return res, nil
}

func containsCol(cols []campaign.Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}
