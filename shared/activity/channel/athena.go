package channel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
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
