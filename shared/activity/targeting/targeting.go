// Package targeting holds the targeting activity types: build-audience,
// read-audience, incremental-query, change-dimension, combine,
// deduplication, enrichment, split, reconciliation, save-audience.
package targeting

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Deps are what the targeting types need from their host.
type Deps struct {
	Data datatask.Deps
	// Audiences and Incrementals are the state store's saved audiences and
	// incremental-query marks (nil: the types that use them fail).
	Audiences    state.Audiences
	Incrementals state.Incrementals
	// Athena runs the types that support it when the catalog's engine says
	// so (nil: such activities fail with a clear error).
	Athena Athena
}

// Run-time semantics of the targeting types, where the spec leaves a choice
// (each handler's comment has the details):
//   - Determinism: every output is ordered by the population's key, then by
//     a hash of the whole row; every random draw is md5(seed, row key) with
//     a seed of run id, activity id and what is drawn. A retried task (same
//     inputs, same run id) writes byte-identical datasets.
//   - Nulls: a group or set key may be null, and null equals null there
//     (deduplication groups, combine keys), as GROUP BY does and as Adobe
//     treats an empty value; a join that identifies rows (reconciliation,
//     change-dimension links, enrichment joins) never matches null. Sort keys
//     put nulls last in both directions.
//   - Empty outputs: ports are activated with 0 rows, except build-audience
//     with emptyOutput: false, split segments with skipEmpty, and
//     incremental-query, whose branch stops when nothing is new (Adobe).
//   - Inactive inputs (a port not activated upstream) are empty populations
//     with the compiled schema.
//   - Test runs compute everything; only save-audience (no write) and
//     incremental-query (state not advanced) behave differently.
//
// Values are bound parameters; identifiers come from the catalog or the
// manifests and are quoted.
//
// Register adds the targeting types to r, their tasks bound to d.
func Register(r *activity.Registry, d *Deps) {
	r.Register(buildAudience(d), readAudience(d), incrementalQuery(d), changeDimension(d), combine(d),
		deduplication(d), enrichment(d), split(d), reconciliation(d), saveAudience(d))
}

func dimensionOutput[C any](dim func(*C) string) func(*activity.Check, *C, []campaign.Schema) map[string]campaign.Schema {
	return func(c *activity.Check, x *C, _ []campaign.Schema) map[string]campaign.Schema {
		return tableOutput(c, dim(x), "out")
	}
}

func tableOutput(c *activity.Check, name, port string) map[string]campaign.Schema {
	if name == "" {
		name = c.Dimension
	}
	if t, ok := c.Catalog.Table(name); ok {
		return map[string]campaign.Schema{port: t.Schema()}
	}
	return map[string]campaign.Schema{port: {Dimension: name}}
}

// Internal column names; inputs are not expected to use the __sw_ prefix.
const (
	ridCol = "__sw_rid" // dense row number in output order
	rnCol  = "__sw_rn"  // rank inside a group
)

// task is a datatask task plus the scratch tables it creates.
type task struct {
	*datatask.Task
	deps   *Deps
	tables []string
	owns   map[dataset.Ref]string // StageOwn views by input
}

// run binds a handler to d: each call opens a task, which it closes after.
func run[C any](d *Deps, f func(t *task, x *C) (*activity.Result, error)) func(context.Context, *activity.Call, *C) (*activity.Result, error) {
	return func(ctx context.Context, call *activity.Call, x *C) (*activity.Result, error) {
		dt, err := datatask.Open(ctx, &d.Data, call)
		if err != nil {
			return nil, err
		}
		t := &task{Task: dt, deps: d}
		defer t.close()
		return f(t, x)
	}
}

func (t *task) close() {
	ctx := context.WithoutCancel(t.Ctx)
	for i := len(t.tables) - 1; i >= 0; i-- {
		t.Engine.Exec(ctx, "DROP TABLE IF EXISTS "+q(t.tables[i]))
	}
	t.Task.Close()
}

// scratchTable returns a fresh table name, dropped when the task ends.
func (t *task) scratchTable(name string) string {
	n := t.View(name)
	t.tables = append(t.tables, n)
	return n
}

// exec runs a statement.
func (t *task) exec(query string, args ...any) error {
	return t.Engine.Exec(t.Ctx, query, args...)
}

// result returns an empty result with the activity's declared ports.
func (t *task) result() *activity.Result {
	return activity.NewResult(t.Comp.Ports[t.Req.Activity])
}

// write stores a query's rows as the dataset of a port and activates it.
func (t *task) write(res *activity.Result, port string, p pop, query string, args ...any) (*dataset.Manifest, error) {
	return t.WriteOver(res, port, p.Dimension, p.Key, p.Base, query, args...)
}

// writeRows is write for a query whose rows are p's, filtered or reordered,
// each at most once and none added (passThrough: over StagePassThrough
// views): the output's key is vouched unique when p's is known to be.
func (t *task) writeRows(res *activity.Result, port string, p pop, passThrough bool, query string, args ...any) (*dataset.Manifest, error) {
	return t.WriteOutput(res, port, dataset.Output{Dimension: p.Dimension, Key: p.Key, Base: p.Base, PassThrough: passThrough,
		UniqueKey: p.unique}, query, args...)
}

// own returns p restricted to its own columns, staged without the join to
// its base: for a narrow input, its files' key and computed columns; ok is
// false for any other population. A query that reads only those columns
// (ownCols, ownWhere) reads the same values from own.View, without scanning
// the base.
func (t *task) own(p pop) (own pop, ok bool, err error) {
	if own, ok = ownPop(p); !ok {
		return pop{}, false, nil
	}
	if v, ok := t.owns[p.ref]; ok {
		own.View = v
		return own, true, nil
	}
	own.View = t.View(fmt.Sprintf("own%d", len(t.owns)))
	if _, err := t.Engine.StageOwn(t.Ctx, own.View, p.ref); err != nil {
		return pop{}, false, err
	}
	if t.owns == nil {
		t.owns = map[dataset.Ref]string{}
	}
	t.owns[p.ref] = own.View
	ownViews.Add(1)
	return own, true, nil
}

// ownPop is p restricted to its own columns, not staged (own.View is p's).
func ownPop(p pop) (own pop, ok bool) {
	if p.Base == nil || p.ref == "" || !ownReads {
		return pop{}, false
	}
	own = p
	own.Columns = nil
	for _, c := range p.Columns {
		if !slices.Contains(p.Base.Columns, c.Name) {
			own.Columns = append(own.Columns, c)
		}
	}
	return own, ownCols(own, p.Key...)
}

// ownReads lets tests read narrow inputs through their joins only, to
// compare; ownViews counts the views own staged.
var (
	ownReads = true
	ownViews atomic.Int64
)

// ownCols reports whether p has every named column.
func ownCols(p pop, names ...string) bool {
	for _, n := range names {
		if !p.has(n) {
			return false
		}
	}
	return true
}

// ownWhere is t.Where for a population's own columns: ok when c reads none
// of the base's columns (directly or through a link's join columns).
func (t *task) ownWhere(own pop, c *condition.Condition, alias string) (string, []any, bool) {
	where, args, err := t.Where(c, alias, own.Schema())
	return where, args, err == nil
}

// pop is a population staged as a view: an inbound dataset, a catalog table
// or a scratch table.
type pop struct {
	View      string
	Dimension string
	Key       []string // the row key, possibly empty (file rows)
	Columns   []campaign.Column
	Active    bool
	From      string
	Count     int64
	// Base, when set, is the dataset the population's Base.Columns come
	// from, by key: outputs that pass the rows through are written narrow
	// over it. With uniqueBase (the base's key is known unique), rows equal
	// on the key are equal on those columns.
	Base       *dataset.Base
	uniqueBase bool
	// unique: the key is known unique and never null over these rows (the
	// manifest says so, or they are a table's whose key is).
	unique bool
	// ref is the dataset of an input whose manifest gives Key.
	ref dataset.Ref
}

// Schema is the population's schema.
func (p pop) Schema() campaign.Schema {
	return campaign.Schema{Dimension: p.Dimension, Columns: p.Columns}
}

func (p pop) has(col string) bool {
	_, ok := p.Schema().Column(col)
	return ok
}

// inputs stages the inbound populations in `from` order. An inactive one (a
// port that was not activated) is an empty view with the schema the compiler
// derived for it.
func (t *task) inputs() ([]pop, error) {
	staged, err := t.StageInputs()
	if err != nil {
		return nil, err
	}
	out := make([]pop, len(staged))
	for i, in := range staged {
		p := pop{From: in.From, Count: in.Count}
		if in.View != "" {
			p.View, p.Active, p.Count = in.View, true, in.Manifest.Rows
			p.Dimension, p.Columns, p.Key = in.Manifest.Dimension, in.Manifest.Columns, in.Manifest.Key
			p.Base, p.uniqueBase = in.Manifest.Base, in.Manifest.Base != nil
			p.unique = in.Manifest.UniqueKey
			if len(p.Key) > 0 {
				p.ref = dataset.Ref(*in.Ref)
			}
		} else {
			s := t.Comp.Schemas[in.From][in.Port]
			p.Dimension, p.Columns, p.Count = s.Dimension, s.Columns, 0
			p.View = t.View(fmt.Sprintf("in%d_empty", i))
			if err := t.emptyView(p.View, p.Columns); err != nil {
				return nil, err
			}
		}
		if len(p.Key) == 0 {
			p.Key = t.tableKey(p.Dimension, p.Columns)
		}
		out[i] = p
	}
	return out, nil
}

// tableKey is the key of a catalog table when the columns hold it.
func (t *task) tableKey(dim string, cols []campaign.Column) []string {
	tbl, ok := t.Comp.Catalog.Table(dim)
	if !ok {
		return nil
	}
	s := campaign.Schema{Columns: cols}
	for _, k := range tbl.Key {
		if _, ok := s.Column(k); !ok {
			return nil
		}
	}
	return tbl.Key
}

func (t *task) emptyView(view string, cols []campaign.Column) error {
	sel := make([]string, 0, len(cols))
	for _, c := range cols {
		typ, err := dataset.DuckDBType(c)
		if err != nil {
			return err
		}
		sel = append(sel, "CAST(NULL AS "+typ+") AS "+q(c.Name))
	}
	if len(sel) == 0 {
		sel = append(sel, "CAST(NULL AS VARCHAR) AS "+q("__sw_empty"))
	}
	return t.exec("CREATE OR REPLACE VIEW " + q(view) + " AS SELECT " + strings.Join(sel, ", ") + " WHERE false")
}

// table stages a catalog table as a population.
func (t *task) table(name string) (pop, error) {
	tbl, ok := t.Comp.Catalog.Table(name)
	if !ok {
		return pop{}, invalid("unknown table %q", name)
	}
	view, err := t.Table(name)
	if err != nil {
		return pop{}, err
	}
	cols := tbl.Columns
	if len(cols) == 0 {
		// No declared columns: those of the source.
		if cols, err = t.Engine.Columns(t.Ctx, "SELECT * FROM "+q(view)); err != nil {
			return pop{}, fmt.Errorf("table %s: %w", name, err)
		}
	}
	base, err := t.Base(name)
	if err != nil {
		return pop{}, err
	}
	return pop{View: view, Dimension: name, Key: tbl.Key, Columns: cols, Active: true, Base: base}, nil
}

// keyedTable is table, with the base's key checked unique: rows then sort
// by key without hashing the table's other columns.
func (t *task) keyedTable(name string) (pop, error) {
	p, err := t.table(name)
	if err != nil || p.Base == nil {
		return p, err
	}
	if p.uniqueBase, err = t.Engine.KeyIsUnique(t.Ctx, p.Base.Ref); err != nil {
		return pop{}, err
	}
	p.unique = p.uniqueBase // the table's own rows
	return p, nil
}

// dimension resolves a configured dimension (default: the campaign's).
func (t *task) dimension(name string) string {
	if name == "" {
		return t.Comp.Campaign.Dimension
	}
	return name
}

// order is the deterministic row order of p's rows under alias: its key, then
// a hash of every column (rows equal on the key are told apart by content;
// fully equal rows are interchangeable).
func order(alias string, p pop) string { return orderIn(condition.DuckDB, alias, p) }

// orderIn is order in a dialect: on Trino the tie-break is the columns
// themselves (rowHashIn).
func orderIn(d condition.Dialect, alias string, p pop) string {
	var parts []string
	for _, k := range p.Key {
		parts = append(parts, col(alias, k)+" ASC NULLS LAST")
	}
	if keyOnlyOrder && len(p.Key) > 0 && hashesKeyOnly(p) {
		// Rows equal on the key are equal on every column: no tie to break
		// (a hash of the key alone breaks none, and costs a hash per row).
		return strings.Join(parts, ", ")
	}
	return strings.Join(append(parts, rowHashIn(d, alias, p)), ", ")
}

// keyOnlyOrder lets tests compare with the hashed tie-break.
var keyOnlyOrder = true

// hashesKeyOnly reports whether every column rowHash hashes is a key column.
func hashesKeyOnly(p pop) bool {
	for _, c := range p.Columns {
		if (!p.uniqueBase || !slices.Contains(p.Base.Columns, c.Name)) && !slices.Contains(p.Key, c.Name) {
			return false
		}
	}
	return true
}

// rowHash hashes every column of p's rows under alias, but those taken from
// a base: rows equal on the key are equal there.
func rowHash(alias string, p pop) string { return rowHashIn(condition.DuckDB, alias, p) }

// rowHashIn is rowHash in a dialect. Trino has no hash() of several values:
// there the tie-break is those columns in turn (as total an order; fully
// equal rows are interchangeable either way).
func rowHashIn(d condition.Dialect, alias string, p pop) string {
	cols := make([]string, 0, len(p.Columns))
	for _, c := range p.Columns {
		if !p.uniqueBase || !slices.Contains(p.Base.Columns, c.Name) {
			cols = append(cols, col(alias, c.Name))
		}
	}
	if len(cols) == 0 {
		return "0"
	}
	if d == condition.Trino {
		return strings.Join(cols, " ASC NULLS LAST, ") + " ASC NULLS LAST"
	}
	return "hash(" + strings.Join(cols, ", ") + ")"
}

// randomOrder is a seeded pseudo-random order (the seed is the first
// argument), then the deterministic row order for hash ties.
func randomOrder(alias string, p pop) string { return randomOrderIn(condition.DuckDB, alias, p) }

func randomOrderIn(d condition.Dialect, alias string, p pop) string {
	return seededHashIn(d, alias, p) + ", " + orderIn(d, alias, p)
}

// seed names a random draw of this run's activity.
func (t *task) seed(what string) string {
	return t.Req.Run.ID + "/" + t.Req.Activity + "/" + what
}

// sortKeys lowers orderBy keys; nulls sort last in both directions.
func sortKeys(alias string, keys []activity.Order) []string {
	out := make([]string, len(keys))
	for i, o := range keys {
		dir := " ASC"
		if o.Desc {
			dir = " DESC"
		}
		out[i] = col(alias, o.Field) + dir + " NULLS LAST"
	}
	return out
}

// orderFields lists the fields of sort keys.
func orderFields(keys []activity.Order) []string {
	out := make([]string, len(keys))
	for i, o := range keys {
		out[i] = o.Field
	}
	return out
}

// selectCols lists p's columns under alias.
func selectCols(alias string, cols []campaign.Column) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = col(alias, c.Name)
	}
	return strings.Join(out, ", ")
}

func col(alias, name string) string {
	if alias == "" {
		return q(name)
	}
	return q(alias) + "." + q(name)
}

func q(name string) string { return dataset.QuoteIdent(name) }

// sqlb builds a statement and its arguments in placeholder order.
type sqlb struct {
	b    strings.Builder
	args []any
}

func (s *sqlb) add(text string, args ...any) *sqlb {
	s.b.WriteString(text)
	s.args = append(s.args, args...)
	return s
}

func (s *sqlb) String() string { return s.b.String() }

func invalid(format string, a ...any) error {
	return &activity.InvalidInput{Msg: fmt.Sprintf(format, a...)}
}

// duckType is the DuckDB type of a column.
func duckType(c campaign.Column) (string, error) { return dataset.DuckDBType(c) }

func colsNamed(names []string) []campaign.Column {
	out := make([]campaign.Column, len(names))
	for i, n := range names {
		out[i] = campaign.Column{Name: n}
	}
	return out
}

// covers reports whether cols include every key column.
func covers(cols, key []string) bool {
	if len(key) == 0 {
		return false
	}
	for _, k := range key {
		found := false
		for _, c := range cols {
			found = found || c == k
		}
		if !found {
			return false
		}
	}
	return true
}
