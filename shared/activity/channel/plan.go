package channel

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Columns the plan adds to the input rows.
const (
	colAddress = "_sw_address"
	colConsent = "_sw_consent"
	colTZ      = "_sw_tz"
	colWave    = "_sw_wave"
	colSkip    = "_sw_skip"
	colRow     = "_sw_row"
)

var planColumns = []string{colAddress, colConsent, colTZ, colWave, colSkip, colRow}

// Wave is the slices that may send from one instant on: the end of the
// quiet hours of some recipients' time zones (Extra "waves" of the plan).
type Wave struct {
	At     string           `json:"at"` // RFC 3339
	Slices []activity.Slice `json:"slices"`
}

// runPlan writes the plan dataset — the input rows with address, consent,
// time zone, wave, plan-time skip reason and a row number, ordered so that
// the rows to send come first, wave by wave — and returns its slices.
//
// The plan is written once per run: a retried or resumed plan finds it and
// returns the same slices. Its manifest's creation time starts the window.
func runPlan(ctx context.Context, d *Deps, call *activity.Call, kind *Kind, x *Config) (*activity.Result, error) {
	env, req := call.Env, call.Req
	// Measured first: the time left now is the function's timeout.
	timeout := functionTimeout(ctx, env, d.options())
	stopAt, callsUntil := sliceStops(ctx, env, d.options())
	t, err := datatask.Open(ctx, &d.Data, call)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	ref := dataset.Ref(planRef(req.Run.ID, req.Activity))
	store := t.Engine.Store()
	m, err := dataset.ReadManifest(ctx, store, ref)
	var sz Sizing
	if errors.Is(err, dataset.ErrNotFound) {
		// The sizing first: a plan found has its sizing beside it.
		sz = planSizing(d.Sender, x, kind, timeout, req.Run.Test)
		if err = putSizing(ctx, store, req.Run.ID, req.Activity, sz); err == nil {
			// Numbered on Athena (PhaseUnload), else here.
			if m, err = recordedPlan(t, ref); err == nil && m == nil {
				m, err = writePlan(t, kind, x, ref)
			}
		}
	} else if err == nil {
		sz, err = readSizing(ctx, store, req.Run.ID, req.Activity, x)
	}
	if err != nil {
		return nil, err
	}
	res, eligible, err := planResult(t, x, ref, m, sz.SliceSize)
	if err != nil {
		return nil, err
	}
	held := false
	if x.Confirm {
		// Nothing to send is nothing to confirm: an empty send is not held.
		held = !req.Run.Test && eligible > 0
		if held {
			ok, err := confirmed(ctx, d, env, req)
			if err != nil {
				return nil, err
			}
			held = !ok
		}
		res.Extra[activity.ExtraHeld] = held
		if held && req.Phase == PhasePlan {
			t.Logf("holding %d recipients until confirmed: `stepwise confirm %s %s` (or the API's confirm)", eligible, req.Run.ID, req.Activity)
		}
	}
	// The slices the Map sends, listed in the run store when many (or on
	// the Athena engine): see listSlices.
	list := func() (*activity.Result, error) {
		if shouldList(req, t.Comp.Catalog, len(res.Slices)) {
			if err := listSlices(ctx, store, d.RunBucket, req, res); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	if req.Phase != PhasePlan {
		return list()
	}
	t.Logf("plan: %d rows, %d to send in %d slices of up to %d", m.Rows, eligible, len(res.Slices)+countWaveSlices(res), sz.SliceSize)
	if !req.Finish || held || x.QuietHours != nil || len(res.Slices) > 1 || countWaveSlices(res) > 0 {
		return list()
	}
	return sendAndFinish(ctx, t, d, kind, x, m, res, stopAt, callsUntil)
}

// sendAndFinish runs the rest of a plan of one slice or none in the plan's
// task: the slice's send (through the ledger when live, as the send phase
// does) and the finish, without a Map of one or a reload of the plan. Its
// result is the finish's, marked finished (the machine's Choice after the
// plan then skips the Map and the finish task). A slice out of time leaves
// its remainder to the Map: the plan's result is returned then.
func sendAndFinish(ctx context.Context, t *datatask.Task, d *Deps, kind *Kind, x *Config, m *dataset.Manifest, res *activity.Result, stopAt, callsUntil time.Time) (*activity.Result, error) {
	for _, sl := range res.Slices {
		sr, err := sendSlice(ctx, t, d, kind, x, sl, stopAt, callsUntil)
		if err != nil {
			return nil, err
		}
		if sr.Extra["remainder"] != nil {
			return res, nil
		}
	}
	fin, err := finishPlan(ctx, t, d, kind, x, m, res)
	if err != nil {
		return nil, err
	}
	if fin.Extra == nil {
		fin.Extra = map[string]any{}
	}
	fin.Extra[activity.ExtraFinished] = true
	return fin, nil
}

func countWaveSlices(res *activity.Result) int {
	n := 0
	if ws, ok := res.Extra["waves"].([]Wave); ok {
		for _, w := range ws {
			n += len(w.Slices)
		}
	}
	return n
}

// targetingExprs returns the SQL of address, consent and time zone over the
// input (alias i) and, for columns the population lacks, the catalog table
// (alias c), and whether the table is needed.
func targetingExprs(in campaign.Schema, tbl *campaign.Table, kind *Kind) (addr, consent, tz string, join bool) {
	col := func(name string) string {
		if name == "" {
			return ""
		}
		if _, ok := in.Column(name); ok {
			return "i." + datatask.Q(name)
		}
		for _, c := range tbl.Columns {
			if c.Name == name {
				join = true
				return "c." + datatask.Q(name)
			}
		}
		return ""
	}
	addr, consent, tz = "NULL", "TRUE", "NULL"
	if tbl.Targeting == nil {
		return
	}
	if e := col(kind.Address(tbl.Targeting)); e != "" {
		addr = "CAST(" + e + " AS VARCHAR)"
	}
	if name := tbl.Targeting.Consent[kind.Type]; name != "" {
		// A declared consent column is required: null or missing is no consent.
		consent = "FALSE"
		if e := col(name); e != "" {
			consent = "coalesce(TRY_CAST(" + e + " AS BOOLEAN), FALSE)"
		}
	}
	if e := col(tbl.Targeting.Timezone); e != "" {
		tz = "CAST(" + e + " AS VARCHAR)"
	}
	return
}

// writePlan writes the plan dataset at ref (see runPlan).
func writePlan(t *datatask.Task, kind *Kind, x *Config, ref dataset.Ref) (*dataset.Manifest, error) {
	ctx := t.Ctx
	p, err := stagePlanInput(t, kind)
	if err != nil {
		return nil, err
	}
	// The plan time: the window starts here, and waves are computed from it.
	planAt := t.Env.Now().UTC().Truncate(time.Second)
	var windowEnd time.Time
	if x.Window != "" {
		d, err := campaign.ParseDuration(x.Window)
		if err != nil {
			return nil, &activity.InvalidInput{Msg: "window: " + err.Error()}
		}
		windowEnd = planAt.Add(d)
	}
	w, err := planWaves(t, x, p, planAt, windowEnd)
	if err != nil {
		return nil, err
	}
	unique, err := p.keyUnique(t)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	with, sendOrder := p.ranked(unique, w)
	query := with + "SELECT *, row_number() OVER (" + sendOrder + ") - 1 AS " + colRow + " FROM ranked ORDER BY " + colRow
	switch {
	case unique && planOwnKeys && p.in.Manifest.Base != nil && w.constant():
		// Every row in one wave, none skipped: the send order is the key's. The
		// key, in the narrow input's own files, is numbered without the join to
		// the base (a narrow sort), and the joined rows sorted once by their
		// numbers, instead of a window sorting the joined rows (1.60 → 1.19 s of
		// CPU for the largest plan of the 1M reference run; the same bytes, see
		// TestPlanOwnKeysAgree). The narrow rows all have their key in the base
		// (they were passed through from it), so the numbers stay dense.
		own := t.View("own")
		if _, err := t.Engine.StageOwn(ctx, own, dataset.Ref(*p.in.Ref)); err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		query = p.numberOwnKeys(with, own)
	case unique && planByKey && p.in.Manifest.Base == nil:
		// The send order numbered over the key alone (a narrow sort), then the rows
		// joined to their numbers and sorted once: one full-width sort instead of two.
		// Not for a narrow input: its rows are narrow already, and reading them twice
		// (each read joins the base) costs more than the second sort (7.9 s instead
		// of 9.0–9.4 s for the 1M reference run).
		order := t.View("order")
		if query, err = p.numberByKey(t, order, with, sendOrder, w.args); err != nil {
			return nil, err
		}
		defer t.Engine.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+datatask.Q(order))
	}
	base, err := planBase(t, x, p.in.Manifest)
	if err != nil {
		return nil, err
	}
	m, err := t.Engine.Write(ctx, dataset.Output{Ref: ref, Dimension: p.in.Manifest.Dimension, Key: p.key, CreatedAt: planAt, Base: base,
		RowGroupRows: planRowGroup}, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	return m, nil
}

// planInput is the population a plan reads: the staged input, its key, and
// the SQL of the recipients' address, consent and time zone over from.
type planInput struct {
	in                datatask.Input
	key               []string
	schema            campaign.Schema
	addr, consent, tz string
	from              string // the input (alias i), joined to its table (alias c) when needed
	dialect           condition.Dialect
}

// waveType is the type of a recipient's wave: Athena's Parquet writer has
// no timestamp with time zone, so on Trino the wave is a timestamp in UTC.
func waveType(d condition.Dialect) string {
	if d == condition.Trino {
		return "TIMESTAMP"
	}
	return "TIMESTAMPTZ"
}

// stagePlanInput stages the activity's input population.
func stagePlanInput(t *datatask.Task, kind *Kind) (*planInput, error) {
	if len(t.Req.Inputs) == 0 {
		return nil, &activity.InvalidInput{Msg: "a channel activity needs an input population"}
	}
	ins, err := t.StageInputs()
	if err != nil {
		return nil, err
	}
	in := ins[0]
	if in.View == "" {
		return nil, &activity.InvalidInput{Msg: "the input population was not activated"}
	}
	tbl, ok := t.Comp.Catalog.Table(in.Manifest.Dimension)
	if !ok {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("%s needs rows of a targeting dimension, not %s", kind.Type, in.Manifest.Schema())}
	}
	p := &planInput{in: in, key: in.Manifest.Key, schema: in.Manifest.Schema()}
	if len(p.key) == 0 {
		p.key = tbl.Key
	}
	if len(p.key) == 0 {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("table %s has no key", tbl.Name)}
	}
	var join bool
	p.addr, p.consent, p.tz, join = targetingExprs(p.schema, tbl, kind)
	table := ""
	if join {
		view, err := t.Table(tbl.Name)
		if err != nil {
			return nil, err
		}
		table = datatask.Q(view)
	}
	p.from = planFrom(condition.DuckDB, datatask.Q(in.View), table, p.key)
	return p, nil
}

// planFrom is the relation a plan reads in dialect d: the input (alias i),
// joined when table is not "" to one row of the table per key (alias c).
// DuckDB picks the row with DISTINCT ON; Trino, which lacks it, with
// row_number() (any row of a key, as DISTINCT ON without ORDER BY).
func planFrom(d condition.Dialect, input, table string, key []string) string {
	from := input + " AS i"
	if table == "" {
		return from
	}
	var on, keys []string
	for _, k := range key {
		on = append(on, "i."+datatask.Q(k)+" = c."+datatask.Q(k))
		keys = append(keys, datatask.Q(k))
	}
	one := "SELECT DISTINCT ON (" + strings.Join(keys, ", ") + ") * FROM " + table
	if d == condition.Trino {
		one = "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY " + strings.Join(keys, ", ") + ") AS _sw_n FROM " + table + ") WHERE _sw_n = 1"
	}
	return from + " LEFT JOIN (" + one + ") AS c ON " + strings.Join(on, " AND ")
}

// waves are the recipients' time zones (sorted) and the wave and skip
// reason of each, as VALUES rows bound to args: the first row, of a null
// zone, is the default.
type waves struct {
	zones   []string
	mapping []string
	args    []any
}

// planWaves computes the waves: one per distinct opening instant of the
// recipients' zones.
func planWaves(t *datatask.Task, x *Config, p *planInput, planAt, windowEnd time.Time) (*waves, error) {
	w := &waves{zones: []string{}}
	q := newQuiet(x.QuietHours)
	if q != nil {
		err := t.Engine.Query(t.Ctx, 1000, func(b *dataset.Batch) error {
			for _, r := range b.Rows {
				if s, ok := r[0].(string); ok {
					w.zones = append(w.zones, s)
				}
			}
			return nil
		}, "SELECT DISTINCT "+p.tz+" FROM "+p.from+" WHERE "+p.tz+" IS NOT NULL")
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		sort.Strings(w.zones)
	}
	def := t.Location()
	cache := map[string]*time.Location{}
	w.mapping = []string{"(CAST(NULL AS VARCHAR), CAST(? AS TIMESTAMPTZ), CAST(? AS VARCHAR))"}
	defWave, defSkip := waveOf(q, planAt, def, windowEnd)
	w.args = []any{defWave, defSkip}
	for _, z := range w.zones {
		wave, skip := waveOf(q, planAt, location(z, def, cache), windowEnd)
		w.mapping = append(w.mapping, "(CAST(? AS VARCHAR), CAST(? AS TIMESTAMPTZ), CAST(? AS VARCHAR))")
		w.args = append(w.args, z, wave, skip)
	}
	return w, nil
}

// constant reports whether every recipient has the default wave and skip
// reason (no quiet hours: no zone of its own).
func (w *waves) constant() bool { return len(w.zones) == 0 && planConstWaves }

// keyUnique reports whether the plan's key identifies the input's rows.
func (p *planInput) keyUnique(t *datatask.Task) (bool, error) {
	if slices.Equal(p.key, p.in.Manifest.Key) {
		return t.Engine.KeyIsUnique(t.Ctx, dataset.Ref(*p.in.Ref))
	}
	var inKey []string
	for _, k := range p.key {
		inKey = append(inKey, "i."+datatask.Q(k))
	}
	row, err := t.Engine.QueryRow(t.Ctx, "SELECT count(*) = count(DISTINCT ("+strings.Join(inKey, ", ")+")) FROM "+datatask.Q(p.in.View)+" AS i")
	if err != nil {
		return false, err
	}
	unique, _ := row[0].(bool)
	return unique, nil
}

// ranked returns the plan's WITH clause, whose `ranked` holds the recipients
// with their wave and skip reason, and the send order over it.
func (p *planInput) ranked(unique bool, w *waves) (with, sendOrder string) {
	var keyCols []string
	for _, k := range p.key {
		keyCols = append(keyCols, "src."+datatask.Q(k))
	}
	cols := make([]string, 0, len(p.schema.Columns))
	for _, c := range p.schema.Columns {
		cols = append(cols, "i."+datatask.Q(c.Name))
	}
	// A recipient found twice is sent once: the later rows are skipped. The
	// window that finds them is only paid for when the key repeats.
	dup := "NULL"
	if !unique {
		dup = "CASE WHEN row_number() OVER (PARTITION BY " + strings.Join(keyCols, ", ") + " ORDER BY src." + colAddress + " NULLS LAST) > 1 THEN " + lit(ReasonDuplicate) + " END"
	}
	with = "WITH src AS (SELECT " + strings.Join(cols, ", ") + ", " + p.addr + " AS " + colAddress + ", " + p.consent + " AS " + colConsent + ", " +
		p.tz + " AS " + colTZ + " FROM " + p.from + "), "
	if w.constant() {
		// No zone of its own: every row has the default wave and skip (a third
		// less work for a large plan than joining the zones).
		with += "ranked AS (SELECT src.*, CAST(? AS " + waveType(p.dialect) + ") AS " + colWave + ", coalesce(" + dup + ", CAST(? AS VARCHAR)) AS " + colSkip + " FROM src) "
	} else {
		with += "zones(tz, wave, skip) AS (VALUES " + strings.Join(w.mapping, ", ") + "), " +
			"ranked AS (SELECT src.*, coalesce(z.wave, d.wave) AS " + colWave + ", " +
			"coalesce(" + dup + ", z.skip, CASE WHEN z.tz IS NULL THEN d.skip END) AS " + colSkip + " " +
			"FROM src LEFT JOIN zones z ON z.tz = src." + colTZ + " CROSS JOIN (SELECT wave, skip FROM zones WHERE tz IS NULL) AS d) "
	}
	sendOrder = "ORDER BY " + colSkip + " IS NOT NULL, " + colWave + ", " + strings.Join(quoted(p.key), ", ") + ", " + colSkip
	return with, sendOrder
}

// numberByKey numbers the key in send order into the table order and
// returns the plan's query joining the rows to their numbers.
func (p *planInput) numberByKey(t *datatask.Task, order, with, sendOrder string, args []any) (string, error) {
	if err := t.Engine.Exec(t.Ctx, "CREATE TABLE "+datatask.Q(order)+" AS "+with+"SELECT "+strings.Join(quoted(p.key), ", ")+
		", row_number() OVER ("+sendOrder+") - 1 AS "+colRow+" FROM ranked", args...); err != nil {
		return "", fmt.Errorf("plan: %w", err)
	}
	var on []string
	for _, k := range p.key {
		on = append(on, "ranked."+datatask.Q(k)+" = o."+datatask.Q(k))
	}
	return with + "SELECT ranked.*, o." + colRow + " FROM ranked JOIN " + datatask.Q(order) + " AS o ON " + strings.Join(on, " AND ") +
		" ORDER BY o." + colRow, nil
}

// numberOwnKeys returns the plan's query when the send order is the key's:
// the keys of own (the input's own files) numbered in key order, joined to
// the rows.
func (p *planInput) numberOwnKeys(with, own string) string {
	keys := strings.Join(quoted(p.key), ", ")
	var on []string
	for _, k := range p.key {
		on = append(on, "ranked."+datatask.Q(k)+" = o."+datatask.Q(k))
	}
	return with + ", o AS (SELECT " + keys + ", row_number() OVER (ORDER BY " + keys + ") - 1 AS " + colRow + " FROM " + datatask.Q(own) + ") " +
		"SELECT ranked.*, o." + colRow + " FROM ranked JOIN o ON " + strings.Join(on, " AND ") + " ORDER BY o." + colRow
}

// planBase is what the plan, which passes the input's rows through, takes
// from the input's base: all but the columns the templates use, which the
// slices then read from the plan's own files without a join. Nil (a wide
// plan) for a wide input or templates that use every column.
func planBase(t *datatask.Task, x *Config, in *dataset.Manifest) (*dataset.Base, error) {
	if in.Base == nil {
		return nil, nil
	}
	prep, err := prepare(t.Env, t.Comp, t.Req.Activity, x)
	if err != nil {
		return nil, err
	}
	used, all := prep.recipientColumns()
	if all {
		return nil, nil
	}
	b := &dataset.Base{Ref: in.Base.Ref}
	for _, c := range in.Base.Columns {
		if !slices.Contains(used, c) {
			b.Columns = append(b.Columns, c)
		}
	}
	return b, nil
}

// planRowGroup is the plan's Parquet row group: a slice reads its window
// from the group it starts in, decoding at most this many rows before it.
const planRowGroup = 16_384

// planConstWaves lets tests join the zones always, to compare.
var planConstWaves = true

// planByKey lets tests take the two-sort path on unique keys, to compare the two.
var planByKey = true

// planOwnKeys lets tests take the window path on narrow inputs, to compare.
var planOwnKeys = true

// waveOf returns when a recipient of loc may be sent, from at, and the skip
// reason when that is after the window.
func waveOf(q *quiet, at time.Time, loc *time.Location, windowEnd time.Time) (time.Time, any) {
	w := at
	if q != nil {
		w = q.opens(at, loc)
	}
	if !windowEnd.IsZero() && !w.Before(windowEnd) {
		return w, ReasonQuietHours
	}
	return w, nil
}

func lit(s string) string { return dataset.QuoteLiteral(s) }

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = datatask.Q(n)
	}
	return out
}

// planResult reads the slices of a written plan: per wave, the rows to send
// are contiguous from the wave's first row number.
func planResult(t *datatask.Task, x *Config, ref dataset.Ref, m *dataset.Manifest, sliceSize int) (*activity.Result, int64, error) {
	view := t.View("plan")
	if _, err := t.Engine.StageOwn(t.Ctx, view, ref); err != nil {
		return nil, 0, fmt.Errorf("plan: %w", err)
	}
	type wave struct {
		at          time.Time
		first, rows int64
	}
	var waves []wave
	err := t.Engine.Query(t.Ctx, 1000, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			at, _ := r[0].(time.Time)
			waves = append(waves, wave{at: at, first: dataset.Int(r[1]), rows: dataset.Int(r[2])})
		}
		return nil
	}, "SELECT "+colWave+", min("+colRow+"), count(*) FROM "+datatask.Q(view)+" WHERE "+colSkip+" IS NULL GROUP BY 1 ORDER BY 1")
	if err != nil {
		return nil, 0, fmt.Errorf("plan: %w", err)
	}
	size := int64(sliceSize)
	res := activity.NewResult([]string{"out", "skipped"})
	res.Extra = map[string]any{}
	var all []activity.Slice
	var ws []Wave
	var eligible int64
	for _, w := range waves {
		var sl []activity.Slice
		for off := int64(0); off < w.rows; off += size {
			sl = append(sl, activity.Slice{Ref: string(ref), Index: len(all) + len(sl), Offset: w.first + off, Count: min(size, w.rows-off)})
		}
		all = append(all, sl...)
		at := w.at
		if t.Req.Run.Test {
			at = m.CreatedAt // test runs do not wait
		}
		ws = append(ws, Wave{At: at.UTC().Format(time.RFC3339), Slices: sl})
		eligible += w.rows
	}
	if x.QuietHours != nil {
		if ws == nil {
			ws = []Wave{}
		}
		res.Extra["waves"] = ws
	} else {
		if all == nil {
			all = []activity.Slice{}
		}
		res.Slices = all
	}
	return res, eligible, nil
}

// confirmed reports whether a held send was confirmed: the state key, or
// locally a `stepwise confirm` signal (recorded as the key).
func confirmed(ctx context.Context, d *Deps, env *activity.Env, req *activity.Request) (bool, error) {
	keys := d.Keys
	name := state.ConfirmKey(req.Run.ID, req.Activity)
	if keys != nil {
		_, err := keys.GetKey(ctx, name, env.Now())
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, state.ErrNotFound) {
			return false, fmt.Errorf("read confirmation: %w", err)
		}
	}
	if d.Signals != nil && d.Signals.Take(ctx, req.Run.ID, ConfirmSignal(req.Activity)) {
		if keys != nil {
			if _, _, err := keys.PutKey(ctx, state.Key{Key: name, Value: "signal", CreatedAt: env.Now()}); err != nil {
				return false, fmt.Errorf("record confirmation: %w", err)
			}
		}
		return true, nil
	}
	return false, nil
}
