package targeting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// ReadAudienceConfig reads a saved audience.
type ReadAudienceConfig struct {
	Audience string `json:"audience" jsonschema:"required"`
}

// readAudience is the read-audience type.
func readAudience(d *Deps) *activity.Spec {
	return activity.Define(activity.Def[ReadAudienceConfig]{
		Type: "read-audience", Family: activity.Targeting, Function: "ReadAudience",
		Summary: "The current version of a saved audience.",
		Inputs:  activity.Inputs{ReadsOwnData: true},
		Output: func(c *activity.Check, x *ReadAudienceConfig, _ []campaign.Schema) map[string]campaign.Schema {
			if s, ok := c.Audiences[x.Audience]; ok {
				return map[string]campaign.Schema{"out": s}
			}
			// Saved by another campaign: the schema is known only at run time.
			return map[string]campaign.Schema{"out": {Dimension: c.Dimension}}
		},
		Lower: func(l activity.Lowerer, x *ReadAudienceConfig) error {
			return lowerInputs(l, onAthenaInput(l.Catalog()), 1)
		},
		Describe: describeReadAudience,
		Run:      run(d, runReadAudience),
		OnAthena: true,
	})
}

// read-audience: a copy of the current version of a saved audience, pinned
// on the port so that a retried task returns the same rows even if the
// audience was saved again in between.
func runReadAudience(t *task, x *ReadAudienceConfig) (*activity.Result, error) {
	switch t.Req.Phase {
	case PhasePlan:
		return planReadAudience(t, x)
	case PhaseFinish:
		return finishReadAudience(t, x)
	}
	st := t.deps.Audiences
	if st == nil {
		return nil, &activity.InvalidInput{Msg: "no state store is configured"}
	}
	res := t.result()
	if ref, m, ok := t.existing("out"); ok {
		res.Set("out", ref, m.Rows)
		return res, nil
	}
	a, err := st.GetAudience(t.Ctx, x.Audience)
	if errors.Is(err, state.ErrNotFound) {
		return nil, invalid("audience %q has not been saved yet", x.Audience)
	}
	if err != nil {
		return nil, fmt.Errorf("read audience: %w", err)
	}
	view := t.View("aud")
	m, err := t.Engine.StageDataset(t.Ctx, view, dataset.Ref(a.Ref))
	if err != nil {
		return nil, fmt.Errorf("audience %q version %d: %w", a.Name, a.Version, err)
	}
	p := pop{View: view, Dimension: m.Dimension, Key: m.Key, Columns: m.Columns}
	if _, err := t.write(res, "out", p, "SELECT "+selectCols("t", p.Columns)+" FROM "+q(view)+" AS t ORDER BY "+order("t", p)); err != nil {
		return nil, err
	}
	res.Extra = map[string]any{"audience": a.Name, "version": a.Version}
	return res, nil
}

// existing returns the dataset a previous attempt of this task left on a port.
func (t *task) existing(port string) (string, *dataset.Manifest, bool) {
	ref := t.Out(port)
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), ref)
	if err != nil {
		return "", nil, false
	}
	return string(ref), m, true
}

// audiencePin is the version a read-audience on Athena copies, written by
// its plan for its finish (the audience may be saved again in between).
const audiencePin = "audience.json"

type pinnedAudience struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Ref     string `json:"ref"`
}

// planReadAudience writes the Athena statement of read-audience: a copy of
// the current version's rows (its dataset registered in Glue), and pins
// that version for finish.
func planReadAudience(t *task, x *ReadAudienceConfig) (*activity.Result, error) {
	res, done, err := t.athenaReady("out")
	if err != nil || done {
		return res, err
	}
	a, m, err := t.currentAudience(x.Audience)
	if err != nil {
		return nil, err
	}
	rel, err := t.registerAudience(a, m)
	if err != nil {
		return nil, err
	}
	pin, _ := json.Marshal(pinnedAudience{Name: a.Name, Version: a.Version, Ref: a.Ref})
	if err := t.Engine.Store().Put(t.Ctx, t.Out("out").Key(audiencePin), bytes.NewReader(pin)); err != nil {
		return nil, err
	}
	sel := "SELECT " + selectCols("t", m.Columns) + " FROM " + q(t.Comp.Catalog.Athena.Database) + "." + q(rel) + " AS t"
	if res.Extra["query"], err = t.unload("out", sel, nil); err != nil {
		return nil, err
	}
	return res, nil
}

// finishReadAudience records Athena's copy of the pinned version as out.
func finishReadAudience(t *task, x *ReadAudienceConfig) (*activity.Result, error) {
	b, err := blob.ReadAll(t.Ctx, t.Engine.Store(), t.Out("out").Key(audiencePin))
	if err != nil {
		return nil, fmt.Errorf("read-audience %s: the version its plan read: %w", x.Audience, err)
	}
	var pin pinnedAudience
	if err := json.Unmarshal(b, &pin); err != nil {
		return nil, fmt.Errorf("read-audience %s: the version its plan read: %w", x.Audience, err)
	}
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), dataset.Ref(pin.Ref))
	if err != nil {
		return nil, fmt.Errorf("audience %q version %d: %w", pin.Name, pin.Version, err)
	}
	res := t.result()
	if _, err := t.recordUnload(res, "out", pop{Dimension: m.Dimension, Key: m.Key, Columns: m.Columns}); err != nil {
		return nil, err
	}
	res.Extra = map[string]any{"audience": pin.Name, "version": pin.Version}
	return res, nil
}
