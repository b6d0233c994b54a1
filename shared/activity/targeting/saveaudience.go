package targeting

import (
	"errors"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
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
		Output: activity.SameInput[SaveAudienceConfig]("out"),
		Lower: func(l activity.Lowerer, x *SaveAudienceConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), 1)
		},
		Run:      run(d, runSaveAudience),
		Describe: describeSaveAudience,
		OnAthena: true,
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
	switch t.Req.Phase {
	case PhasePlan:
		return planSaveAudience(t, x)
	case PhaseFinish:
		return finishSaveAudience(t, x)
	}
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
	cols, err := audienceColumns(in, x)
	if err != nil {
		return nil, err
	}
	if t.Req.Run.Test {
		return t.testAudience(res, x, in), nil
	}
	ref, saved, err := t.savedAudience(res, x)
	if err != nil || saved {
		return res, err
	}
	m, err := t.Engine.Write(t.Ctx, dataset.Output{Ref: ref, Dimension: in.Dimension, Key: in.Key, CreatedAt: t.Now()},
		audienceSelect(condition.DuckDB, q(in.View), in, cols))
	if err != nil {
		return nil, fmt.Errorf("write audience %s: %w", x.Audience, err)
	}
	return res, t.saveAudienceVersion(res, x, ref, in, m)
}

// audienceColumns are the columns a saved audience keeps: the key, then
// fields (default: every column).
func audienceColumns(in pop, x *SaveAudienceConfig) ([]campaign.Column, error) {
	if len(in.Key) == 0 {
		return nil, invalid("save-audience needs rows with a key (a population of a catalog table)")
	}
	s := in.Schema()
	var cols []campaign.Column
	for _, k := range in.Key {
		c, ok := s.Column(k)
		if !ok {
			c = campaign.Column{Name: k}
		}
		cols = append(cols, c)
	}
	fields := x.Fields
	if len(fields) == 0 {
		fields = s.ColumnNames()
	}
	for _, f := range fields {
		c, ok := s.Column(f)
		if !ok {
			return nil, invalid("fields: unknown column %q", f)
		}
		if !containsCol(cols, f) {
			cols = append(cols, c)
		}
	}
	return cols, nil
}

// audienceSelect is a saved audience's rows in a dialect: one row per key
// of the population at rel (alias t), the first in row order. DuckDB writes
// them in key order; an UNLOAD's order is Athena's.
func audienceSelect(d condition.Dialect, rel string, in pop, cols []campaign.Column) string {
	query := "SELECT " + selectCols("", cols) + " FROM (SELECT t.*, row_number() OVER (PARTITION BY " + selectCols("t", colsNamed(in.Key)) +
		" ORDER BY " + orderIn(d, "t", in) + ") AS " + q(rnCol) + " FROM " + rel + " AS t) WHERE " + q(rnCol) + " = 1"
	if d == condition.Trino {
		return query
	}
	return query + " ORDER BY " + selectCols("", colsNamed(in.Key))
}

// testAudience is save-audience in a test run: nothing written or recorded.
func (t *task) testAudience(res *activity.Result, x *SaveAudienceConfig, in pop) *activity.Result {
	res.Extra = map[string]any{"test": true, "audience": x.Audience}
	t.Logf("test mode: audience %s not saved (%d rows)", x.Audience, in.Count)
	return res
}

// savedAudience is the ref of this activity's version of the audience, and
// whether it is already recorded (a retried task: res then says which).
func (t *task) savedAudience(res *activity.Result, x *SaveAudienceConfig) (dataset.Ref, bool, error) {
	st := t.deps.Audiences
	if st == nil {
		return "", false, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	ref := blob.Join("audiences", x.Audience, t.Req.Run.ID+"-"+t.Req.Activity)
	hist, err := st.AudienceHistory(t.Ctx, x.Audience)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return "", false, fmt.Errorf("read audience history: %w", err)
	}
	for _, a := range hist {
		if a.Ref == ref {
			res.Extra = map[string]any{"audience": a.Name, "version": a.Version, "count": a.Count}
			return dataset.Ref(ref), true, nil
		}
	}
	return dataset.Ref(ref), false, nil
}

// saveAudienceVersion records the dataset m at ref as the audience's new
// current version.
func (t *task) saveAudienceVersion(res *activity.Result, x *SaveAudienceConfig, ref dataset.Ref, in pop, m *dataset.Manifest) error {
	a, err := t.deps.Audiences.SaveAudience(t.Ctx, state.Audience{Name: x.Audience, Ref: string(ref), Count: m.Rows, Dimension: in.Dimension,
		RunID: t.Req.Run.ID, SavedAt: t.Env.Now()})
	if err != nil {
		return fmt.Errorf("save audience: %w", err)
	}
	t.Logf("audience %s version %d: %d rows", a.Name, a.Version, a.Count)
	res.Extra = map[string]any{"audience": a.Name, "version": a.Version, "count": a.Count}
	return nil
}

// planSaveAudience writes the Athena statement of save-audience: the
// audience's rows UNLOADed under its version's ref. Nothing runs (done)
// for an inactive input, in a test run, or when the version is already
// written (a retried task).
func planSaveAudience(t *task, x *SaveAudienceConfig) (*activity.Result, error) {
	if t.deps.Athena == nil || t.Comp.Catalog.Athena == nil {
		return nil, invalid("engine athena: no Athena is configured on this host")
	}
	res := t.result()
	res.Extra = map[string]any{"done": true}
	in, err := t.inputShape(0)
	if err != nil || !in.Active {
		return res, err
	}
	cols, err := audienceColumns(in, x)
	if err != nil || t.Req.Run.Test {
		return res, err
	}
	ref, saved, err := t.savedAudience(t.result(), x)
	if err != nil || saved {
		return res, err
	}
	if _, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), ref); err == nil {
		return res, nil // written; finish records the version
	} else if !errors.Is(err, dataset.ErrNotFound) {
		return nil, err
	}
	if err := t.clearUnload(ref); err != nil {
		return nil, err
	}
	_, rel, err := t.athenaInput(0)
	if err != nil {
		return nil, err
	}
	res.Extra["done"] = false
	if res.Extra["query"], err = t.unloadAt(ref, audienceSelect(condition.Trino, rel, in, cols), nil); err != nil {
		return nil, err
	}
	return res, nil
}

// finishSaveAudience records Athena's output as the audience's dataset and
// new version; out carries the inbound population.
func finishSaveAudience(t *task, x *SaveAudienceConfig) (*activity.Result, error) {
	res := t.result()
	in, err := t.inputShape(0)
	if err != nil || !in.Active {
		return res, err
	}
	res.Set("out", *t.Req.Inputs[0].Ref, in.Count)
	cols, err := audienceColumns(in, x)
	if err != nil {
		return nil, err
	}
	if t.Req.Run.Test {
		return t.testAudience(res, x, in), nil
	}
	ref, saved, err := t.savedAudience(res, x)
	if err != nil || saved {
		return res, err
	}
	m, err := t.recordUnloadAt(ref, pop{Dimension: in.Dimension, Key: in.Key, Columns: cols})
	if err != nil {
		return nil, fmt.Errorf("write audience %s: %w", x.Audience, err)
	}
	return res, t.saveAudienceVersion(res, x, ref, in, m)
}

func containsCol(cols []campaign.Column, name string) bool {
	for _, c := range cols {
		if c.Name == name {
			return true
		}
	}
	return false
}
