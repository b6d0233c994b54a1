package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// AthenaPlan is what the plan's statement on Athena (Trino) reads: the
// input population as a Glue table and, when the population lacks one of
// the channel's targeting columns, its dimension's table.
type AthenaPlan struct {
	Kind   *Kind
	Config *Config
	// Input is the population's schema and Key its key (the table's when
	// the population has none).
	Input campaign.Schema
	Key   []string
	// Table is the population's dimension table (its targeting columns).
	Table *campaign.Table
	// Relation is the input as Trino reads it ("database"."table");
	// TableRelation the dimension table's ("": none registered).
	Relation, TableRelation string
	// PlanAt is the plan time: the window starts here.
	PlanAt time.Time
}

// ErrWavesOnDuckDB refuses a plan with quiet hours on Athena: its waves
// (one per opening instant of the recipients' zones) stay on the DuckDB plan.
var ErrWavesOnDuckDB = errors.New("quietHours: the waves of a channel's plan are computed on DuckDB only")

// Select is the plan's SELECT in the Trino dialect, values inline: the
// same recipients, address, consent, wave, skip reason and row number as
// the DuckDB plan (writePlan's window path, from the same ranked and
// planFrom), ordered by the row number: UNLOAD writes files in parallel,
// each sorted, so each file holds its rows in send order (the record then
// orders the files by their ranges, see RecordPlan). Whether the key repeats is not asked
// first (one more query on Athena): the duplicate window always runs, and
// marks nothing when the key is unique.
func (a AthenaPlan) Select() (string, error) {
	x := a.Config
	if x.QuietHours != nil {
		return "", ErrWavesOnDuckDB
	}
	if len(a.Key) == 0 {
		return "", &activity.InvalidInput{Msg: fmt.Sprintf("table %s has no key", a.Table.Name)}
	}
	p := &planInput{key: a.Key, schema: a.Input, dialect: condition.Trino}
	var join bool
	p.addr, p.consent, p.tz, join = targetingExprs(a.Input, a.Table, a.Kind)
	table := ""
	if join {
		if a.TableRelation == "" {
			return "", &activity.InvalidInput{Msg: fmt.Sprintf("the plan on Athena needs table %s (a targeting column the population lacks)", a.Table.Name)}
		}
		table = a.TableRelation
	}
	p.from = planFrom(condition.Trino, a.Relation, table, p.key)
	planAt := a.PlanAt.UTC().Truncate(time.Second)
	var windowEnd time.Time
	if x.Window != "" {
		d, err := campaign.ParseDuration(x.Window)
		if err != nil {
			return "", &activity.InvalidInput{Msg: "window: " + err.Error()}
		}
		windowEnd = planAt.Add(d)
	}
	wave, skip := waveOf(nil, planAt, nil, windowEnd)
	w := &waves{zones: []string{}, args: []any{wave.UTC().Format("2006-01-02 15:04:05.000000"), skip}}
	if !w.constant() {
		return "", errors.New("plan: the Trino plan needs constant waves")
	}
	with, sendOrder := p.ranked(false, w)
	return condition.Inline(with+"SELECT *, row_number() OVER ("+sendOrder+") - 1 AS "+colRow+" FROM ranked ORDER BY "+colRow, w.args)
}

// Unload is the plan's statement on Athena: its rows as Parquet at
// location (an s3:// prefix ending in /).
func (a AthenaPlan) Unload(location string) (string, error) {
	sel, err := a.Select()
	if err != nil {
		return "", err
	}
	return "UNLOAD (" + sel + ") TO " + dataset.QuoteLiteral(location) + " WITH (format = 'PARQUET', compression = 'SNAPPY')", nil
}

// AthenaPlanDir is where, under the plan's ref, the UNLOAD writes.
const AthenaPlanDir = "athena"

// planColumns' types, as the DuckDB plan's manifest records them.
var planColumnTypes = []campaign.Column{{Name: colAddress, Type: campaign.TypeString}, {Name: colConsent, Type: campaign.TypeBoolean},
	{Name: colTZ, Type: campaign.TypeString}, {Name: colWave, Type: campaign.TypeTimestamp}, {Name: colSkip, Type: campaign.TypeString},
	{Name: colRow, Type: campaign.TypeInteger}}

// RecordAthenaPlan makes the UNLOAD's files under ref's AthenaPlanDir the
// plan dataset at ref (in: the input population; key its key): from the
// footers only, the files listed in the order of their row numbers
// (dataset.RecordFilesByRange), so that a slice's send reads its window by
// position, as from the DuckDB plan, opening only the files it spans.
func RecordAthenaPlan(ctx context.Context, store blob.Store, ref dataset.Ref, in campaign.Schema, key []string, createdAt time.Time) (*dataset.Manifest, error) {
	prefix := ref.Key(AthenaPlanDir) + "/"
	keys, err := blob.Keys(ctx, store, prefix)
	if err != nil {
		return nil, err
	}
	files := make([]string, len(keys))
	for i, k := range keys {
		files[i] = AthenaPlanDir + "/" + strings.TrimPrefix(k, prefix)
	}
	cols := append(slices.Clone(in.Columns), planColumnTypes...)
	return dataset.RecordFilesByRange(ctx, store, dataset.Output{Ref: ref, Dimension: in.Dimension, Key: key, CreatedAt: createdAt}, cols, files, colRow)
}

// Athena is what the plan on Athena needs from its host (AWS: Glue and the
// run bucket; locally the DuckDB stand-in): athenastep.Host.
type Athena = athenastep.Host

// PhaseUnload is the plan's first phase under engine athena: it writes the
// plan's UNLOAD (extra.query) for the query state, or says done (the plan
// is recorded already, or it falls back to the DuckDB plan).
const PhaseUnload = "unload"

// planAtKey holds the plan instant the UNLOAD used (the window starts there).
func planAtKey(run, act string) string { return "runs/" + run + "/" + act + "/_plan_at" }

// runUnload is PhaseUnload: the plan's statement for Athena, over the
// input registered as a Glue table. A plan recorded already, a host
// without Athena, an input written over its table (by a DuckDB activity)
// or a population lacking a targeting column (the join) falls back to the
// DuckDB plan of the plan phase that follows (extra.done, a log line why).
func runUnload(ctx context.Context, d *Deps, call *activity.Call, kind *Kind, x *Config) (*activity.Result, error) {
	t, err := datatask.Open(ctx, &d.Data, call)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	req := t.Req
	res := activity.NewResult([]string{"out", "skipped"})
	res.Extra = map[string]any{"done": true}
	store := t.Engine.Store()
	ref := dataset.Ref(planRef(req.Run.ID, req.Activity))
	if _, err := dataset.ReadManifest(ctx, store, ref); err == nil {
		return res, nil
	} else if !errors.Is(err, dataset.ErrNotFound) {
		return nil, err
	}
	fallBack := func(why string) (*activity.Result, error) {
		t.Logf("plan on DuckDB: %s", why)
		return res, nil
	}
	cfg := t.Comp.Catalog.Athena
	if d.Athena == nil || cfg == nil {
		return fallBack("no Athena is configured on this host")
	}
	if len(req.Inputs) == 0 || req.Inputs[0].Ref == nil || *req.Inputs[0].Ref == "" {
		return fallBack("the input population is not active")
	}
	in := dataset.Ref(*req.Inputs[0].Ref)
	im, err := dataset.ReadManifest(ctx, store, in)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	if im.Base != nil || im.Source != nil {
		return fallBack("its input is written over its table (by an activity on DuckDB)")
	}
	tbl, ok := t.Comp.Catalog.Table(im.Dimension)
	if !ok {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("%s needs rows of a targeting dimension, not %s", kind.Type, im.Schema())}
	}
	key := im.Key
	if len(key) == 0 {
		key = tbl.Key
	}
	if _, _, _, join := targetingExprs(im.Schema(), tbl, kind); join {
		return fallBack("the population lacks a targeting column of table " + tbl.Name)
	}
	name := athenastep.GlueName(req.Run.ID, "plan_"+req.Activity)
	if err := d.Athena.RegisterTable(ctx, athenastep.GlueTable{Database: cfg.Database, Name: name, Ref: in, Manifest: im, Columns: im.Columns}); err != nil {
		return nil, fmt.Errorf("register the input: %w", err)
	}
	// UNLOAD wants an empty location: a failed earlier attempt's files go.
	keys, err := blob.Keys(ctx, store, ref.Key(AthenaPlanDir)+"/")
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if err := store.Delete(ctx, k); err != nil {
			return nil, err
		}
	}
	planAt := t.Env.Now().UTC().Truncate(time.Second)
	if err := store.Put(ctx, planAtKey(req.Run.ID, req.Activity), strings.NewReader(planAt.Format(time.RFC3339))); err != nil {
		return nil, err
	}
	a := AthenaPlan{Kind: kind, Config: x, Input: im.Schema(), Key: key, Table: tbl,
		Relation: dataset.QuoteIdent(cfg.Database) + "." + dataset.QuoteIdent(name), PlanAt: planAt}
	q, err := a.Unload(d.Athena.Location(ref.Key(AthenaPlanDir)))
	if err != nil {
		return nil, err
	}
	res.Extra["done"] = false
	res.Extra["query"] = q
	return res, nil
}

// recordedPlan records the UNLOAD of runUnload as the plan dataset at ref;
// nil when there was none (the plan is DuckDB's).
func recordedPlan(t *datatask.Task, ref dataset.Ref) (*dataset.Manifest, error) {
	ctx, store, req := t.Ctx, t.Engine.Store(), t.Req
	r, err := store.Get(ctx, planAtKey(req.Run.ID, req.Activity))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return nil, err
	}
	planAt, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return nil, fmt.Errorf("plan instant: %w", err)
	}
	im, err := dataset.ReadManifest(ctx, store, dataset.Ref(*req.Inputs[0].Ref))
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	key := im.Key
	if tbl, ok := t.Comp.Catalog.Table(im.Dimension); ok && len(key) == 0 {
		key = tbl.Key
	}
	m, err := RecordAthenaPlan(ctx, store, ref, im.Schema(), key, planAt)
	if err != nil {
		return nil, fmt.Errorf("plan: the UNLOAD's output: %w", err)
	}
	return m, nil
}
