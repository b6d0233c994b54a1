package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/gluename"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Athena is what update-data on the Athena engine needs from its host (AWS:
// Glue and the run bucket; locally, the DuckDB stand-in).
type Athena interface {
	targeting.Athena
	// RegisterIceberg creates the Iceberg table a managed table is merged
	// into, unless it exists; created reports a new, empty one.
	RegisterIceberg(ctx context.Context, t IcebergTable) (created bool, err error)
}

// IcebergTable is the Iceberg copy of a managed table on Athena.
type IcebergTable = athenastep.IcebergTable

// Phases of update-data on Athena (as the targeting types'): plan writes the
// statements, Step Functions runs them, finish records the ports and
// commits the table version.
const (
	phasePlan   = targeting.PhasePlan
	phaseFinish = targeting.PhaseFinish
)

// athenaStatements are update-data's statements on Athena in the order the
// machine runs them: the resync of the Iceberg copy (when it does not hold
// the version the update reads: delete, load), the three UNLOADs of the
// classified rows (out, rejects, counts), then, unless in test mode, the
// MERGE and the UNLOAD of the new version.
var athenaStatements = []string{"delete", "load", "out", "rejects", "counts", "merge", "version"}

// onAthena reports whether update-data runs on Athena: under engine: athena
// only (under auto its input's size is not known when compiling).
func onAthena(cat *campaign.Catalog) bool {
	return cat != nil && cat.Engine == campaign.EngineAthena && cat.Athena != nil
}

// lowerUpdateAthena emits plan → route → [delete → load] → out → rejects →
// counts → apply? → [merge → version] → finish. A failed query becomes
// AthenaQueryFailed with Athena's reason, then takes the activity's error
// path; nothing is committed then (finish commits).
func lowerUpdateAthena(l activity.Lowerer) error {
	res := l.ResultPath()
	plan := l.Task(phasePlan, nil)
	plan.Next = l.Name("route")
	l.Add(l.Name(""), plan)
	l.Add(l.Name("route"), &asl.State{Type: "Choice", Comment: "a retried activity whose ports are recorded runs no query; a stale Iceberg copy is loaded first",
		Choices: []asl.ChoiceRule{{Variable: res + ".extra.done", BooleanEquals: asl.Bool(true), Next: l.Name("finish")},
			{Variable: res + ".extra.sync", BooleanEquals: asl.Bool(true), Next: stmtState(l, "delete")}},
		Default: stmtState(l, "out")})
	failed := athenastep.AddFailed(l)
	for i, name := range athenaStatements {
		next := ""
		switch name {
		case "counts":
			next = l.Name("apply?")
		case "version":
			next = l.Name("finish")
		default:
			next = stmtState(l, athenaStatements[i+1])
		}
		l.Add(stmtState(l, name), athenastep.Query(l, name, "athena_"+name, athenaComments[name], failed, next))
	}
	l.Add(l.Name("apply?"), &asl.State{Type: "Choice", Comment: "test mode: nothing is merged",
		Choices: []asl.ChoiceRule{{Variable: res + ".extra.apply", BooleanEquals: asl.Bool(true), Next: stmtState(l, "merge")}},
		Default: l.Name("finish")})
	finish := l.Task(phaseFinish, nil)
	finish.Next = l.Next()
	l.Add(l.Name("finish"), finish)
	return nil
}

// stmtState names the state of a statement ("x:query merge"; the compiler
// names port states "x:out").
func stmtState(l activity.Lowerer, name string) string { return l.Name("query " + name) }

var athenaComments = map[string]string{
	"delete":  "resync the Iceberg copy with the table's current version: empty it",
	"load":    "resync the Iceberg copy: load the current version",
	"out":     "UNLOAD the input rows that apply",
	"rejects": "UNLOAD the input rows that do not apply, with the reason",
	"counts":  "UNLOAD the count of inserted, updated, deleted and rejected rows",
	"merge":   "MERGE INTO the table's Iceberg copy: one snapshot commit",
	"version": "UNLOAD the merged table as the table's next version (finish commits it)",
}

// athenaAttempt is what a plan decided, for its finish (the run store holds
// it: a Step Functions payload carries no rows nor columns).
type athenaAttempt struct {
	Base     int64             `json:"base"`
	BaseRows int64             `json:"baseRows"` // rows of version Base
	Ref      string            `json:"ref"`      // the next version's dataset
	Apply    bool              `json:"apply"`
	Columns  []campaign.Column `json:"columns"`
}

// icebergMark says which version of the table its Iceberg copy holds: Clean
// at Version, or being changed by the update Tag (clean again once that
// update committed). A copy not clean at the version an update reads is
// loaded again first.
type icebergMark struct {
	Version int64  `json:"version"`
	Tag     string `json:"tag,omitempty"`
	Clean   bool   `json:"clean"`
}

func markKey(table string) string { return blob.Join(dataset.WarehousePrefix, table, "athena.json") }

func (u *updater) readMark() (icebergMark, error) {
	var m icebergMark
	b, err := blob.ReadAll(u.t.Ctx, u.t.Warehouse().Store(), markKey(u.tbl.Name))
	if errors.Is(err, blob.ErrNotFound) {
		return m, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		return m, fmt.Errorf("update-data: %s: %w", markKey(u.tbl.Name), err)
	}
	return m, nil
}

func (u *updater) writeMark(m icebergMark) error {
	b, _ := json.Marshal(m)
	return u.t.Warehouse().Store().Put(u.t.Ctx, markKey(u.tbl.Name), strings.NewReader(string(b)))
}

func (u *updater) attemptPath() string { return string(u.t.Out("-athena")) + ".json" }

// icebergName is the managed table's Iceberg copy: one per table.
func icebergName(table string) string { return gluename.Managed(table) }

func qualified(db, name string) string { return datatask.Q(db) + "." + datatask.Q(name) }

// countsPort holds the UNLOAD of the counts ("-": never a port name).
const countsPort = "-counts"

// athenaDir is where, under a dataset's ref, Athena's UNLOAD writes.
const athenaDir = "athena"

// planAthena writes update-data's statements. The rows are classified
// against the version the update reads (its dataset registered in Glue) by
// the same generator as on DuckDB (classifySQL, Trino dialect); the MERGE
// applies the rows that apply to the table's Iceberg copy, which holds that
// version (else it is loaded again first).
func (u *updater) planAthena(res *activity.Result) (*activity.Result, error) {
	t, a := u.t, u.a
	cfg := t.Comp.Catalog.Athena
	if a == nil || cfg == nil {
		return nil, &activity.InvalidInput{Msg: "update-data: engine athena: no Athena is configured on this host"}
	}
	res.Extra = map[string]any{"done": false, "sync": false, "apply": false}
	done, err := u.portsRecorded()
	if err != nil {
		return nil, err
	}
	if done {
		res.Extra["done"] = true
		return res, nil
	}
	if t.Warehouse() != t.Engine {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: table %s: %v: the catalog's warehouse must be the run store (no `warehouse`)", u.tbl.Name, condition.ErrNotOnAthena)}
	}
	m := u.in.Manifest
	if m.Base != nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: input from %s: %v: its dataset is written over its table (by an activity on DuckDB)", u.in.From, condition.ErrNotOnAthena)}
	}
	v, err := current(t, u.x)
	if err != nil {
		return nil, err
	}
	p, err := u.prepare(v)
	if err != nil {
		return nil, err
	}
	defer p.drop()
	db := cfg.Database
	inName := athenastep.GlueName(t.Req.Run.ID, "upd_"+t.Req.Activity+"_in")
	if err := a.RegisterTable(t.Ctx, targeting.GlueTable{Database: db, Name: inName, Ref: dataset.Ref(*u.in.Ref), Manifest: m, Columns: m.Columns}); err != nil {
		return nil, fmt.Errorf("update-data: register the input from %s: %w", u.in.From, err)
	}
	baseRel, baseRows, err := u.registerBase(v, p)
	if err != nil {
		return nil, err
	}
	classify := "(" + p.classifySQL(condition.Trino, qualified(db, inName), baseRel) + ") AS c"
	consts, err := p.trinoConsts()
	if err != nil {
		return nil, err
	}
	ref := versionRef(u.tbl.Name, v.Version+1, u.tag)
	stmts := map[string]string{}
	var outCols, rejCols []string
	for _, c := range p.inCols {
		outCols = append(outCols, "c."+datatask.Q(c))
		if c != "reason" {
			rejCols = append(rejCols, "c."+datatask.Q(c))
		}
	}
	stmts["out"] = u.unload(t.Out("out"), "SELECT "+strings.Join(outCols, ", ")+" FROM "+classify+" WHERE c.__sw_reason IS NULL")
	stmts["rejects"] = u.unload(t.Out("rejects"), "SELECT "+strings.Join(rejCols, ", ")+", c.__sw_reason AS reason FROM "+classify+" WHERE c.__sw_reason IS NOT NULL")
	change := "'updated'"
	if u.x.Operation == "delete" {
		change = "'deleted'"
	}
	stmts["counts"] = u.unload(t.Out(countsPort), "SELECT CASE WHEN c.__sw_reason IS NOT NULL THEN 'rejected' WHEN c.__sw_n = 0 THEN 'inserted' ELSE "+
		change+" END AS kind, count(*) AS n FROM "+classify+" GROUP BY 1")
	att := athenaAttempt{Base: v.Version, BaseRows: baseRows, Ref: string(ref), Apply: !t.Req.Run.Test, Columns: p.cols}
	if att.Apply {
		ice := IcebergTable{Database: db, Name: icebergName(u.tbl.Name), Table: u.tbl.Name, Columns: p.cols, Key: u.tbl.Key,
			Location: a.Location(blob.Join(dataset.WarehousePrefix, u.tbl.Name, "iceberg"))}
		created, err := a.RegisterIceberg(t.Ctx, ice)
		if err != nil {
			return nil, fmt.Errorf("update-data: Iceberg table of %s: %w", u.tbl.Name, err)
		}
		mark, err := u.readMark()
		if err != nil {
			return nil, err
		}
		iceRel := qualified(db, ice.Name)
		var names []string
		for _, c := range p.cols {
			names = append(names, datatask.Q(c.Name))
		}
		if created || !mark.Clean || mark.Version != v.Version {
			res.Extra["sync"] = true
			stmts["delete"] = "DELETE FROM " + iceRel
			stmts["load"] = "INSERT INTO " + iceRel + " (" + strings.Join(names, ", ") + ") SELECT " + strings.Join(names, ", ") + " FROM " + baseRel
		}
		stmts["merge"] = p.mergeSQL(iceRel, classify, consts)
		stmts["version"] = u.unload(ref, "SELECT "+strings.Join(names, ", ")+" FROM "+iceRel)
		// From here on the copy may differ from every committed version
		// until this update commits.
		if err := u.writeMark(icebergMark{Version: v.Version, Tag: u.tag}); err != nil {
			return nil, err
		}
		res.Extra["apply"] = true
	}
	// UNLOAD wants empty locations: clear what a failed attempt left.
	for _, r := range []dataset.Ref{t.Out("out"), t.Out("rejects"), t.Out(countsPort), ref} {
		if err := clearUnload(t.Ctx, t.Engine.Store(), r); err != nil {
			return nil, err
		}
	}
	b, _ := json.Marshal(att)
	if err := t.Engine.Store().Put(t.Ctx, u.attemptPath(), strings.NewReader(string(b))); err != nil {
		return nil, err
	}
	for k, s := range stmts {
		res.Extra[k] = s
	}
	return res, nil
}

// registerBase registers the version the update reads (its dataset, or the
// run's snapshot of the table's source) and returns its relation.
func (u *updater) registerBase(v state.TableVersion, p *plan) (rel string, rows int64, err error) {
	t := u.t
	db := t.Comp.Catalog.Athena.Database
	var ref dataset.Ref
	if v.Ref != "" {
		ref = dataset.Ref(v.Ref)
	} else if u.tbl.Source != "" {
		if _, err := t.Table(u.tbl.Name); err != nil {
			return "", 0, err
		}
		b, err := t.Base(u.tbl.Name)
		if err != nil {
			return "", 0, err
		}
		if b == nil {
			return "", 0, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: table %s: %v (it has no data in the run store)", u.tbl.Name, condition.ErrNotOnAthena)}
		}
		ref = b.Ref
	} else {
		rel, err := emptyRelation(p.cols)
		return rel, 0, err
	}
	m, err := dataset.ReadManifest(t.Ctx, t.Engine.Store(), ref)
	if err != nil {
		return "", 0, fmt.Errorf("update-data: table %s version %d: %w", u.tbl.Name, v.Version, err)
	}
	if m.Base != nil || (m.Source != nil && m.Source.Format != "parquet") {
		return "", 0, &activity.InvalidInput{Msg: fmt.Sprintf("update-data: table %s: %v: Athena reads Parquet tables here", u.tbl.Name, condition.ErrNotOnAthena)}
	}
	name := athenastep.GlueName(t.Req.Run.ID, fmt.Sprintf("upd_%s_%s_v%d", t.Req.Activity, u.tbl.Name, v.Version))
	if err := u.a.RegisterTable(t.Ctx, targeting.GlueTable{Database: db, Name: name, Ref: ref, Manifest: m, Columns: p.cols}); err != nil {
		return "", 0, fmt.Errorf("update-data: register table %s: %w", u.tbl.Name, err)
	}
	return qualified(db, name), m.Rows, nil
}

// emptyRelation is a relation of cols with no row (Trino's type names).
func emptyRelation(cols []campaign.Column) (string, error) {
	items := make([]string, len(cols))
	for i, c := range cols {
		typ, err := dataset.DuckDBType(c)
		if err != nil {
			return "", err
		}
		items[i] = "CAST(NULL AS " + condition.Trino.TypeName(typ) + ") AS " + datatask.Q(c.Name)
	}
	return "(SELECT " + strings.Join(items, ", ") + " WHERE false)", nil
}

// trinoConsts is the row of constant set values, inlined (sets' own casts,
// Trino's type names and instants).
func (p *plan) trinoConsts() (string, error) {
	sel := []string{"1 AS __sw_one"}
	var args []any
	i := 0
	for _, s := range p.sets {
		if s.kind == "field" {
			continue
		}
		sel = append(sel, fmt.Sprintf("TRY_CAST(? AS %s) AS %s", condition.Trino.TypeName(s.duck), s.alias))
		arg := p.constArgs[i]
		if str, ok := arg.(string); ok && s.col.Type == campaign.TypeTimestamp {
			if tm, err := time.Parse(time.RFC3339Nano, str); err == nil {
				arg = condition.Trino.Timestamp(tm)
			}
		}
		args = append(args, arg)
		i++
	}
	return condition.Inline("(SELECT "+strings.Join(sel, ", ")+")", args)
}

// mergeSQL applies the rows of classify that apply to target (the Iceberg
// copy, at the version they were classified against) with the same column
// values as tableSQL: one MERGE, one snapshot.
func (p *plan) mergeSQL(target, classify, consts string) string {
	op := p.u.x.Operation
	var on []string
	for i, k := range p.keys {
		on = append(on, fmt.Sprintf("b.%s = c.__sw_k%d", datatask.Q(k[0]), i))
	}
	var set, cols, vals []string
	for _, e := range p.values("c") {
		typ := condition.Trino.TypeName(e.duck)
		if e.set {
			set = append(set, fmt.Sprintf("%s = CAST(%s AS %s)", e.q, e.upd, typ))
		}
		cols = append(cols, e.q)
		vals = append(vals, fmt.Sprintf("CAST(%s AS %s)", e.ins, typ))
	}
	if len(set) == 0 {
		k := datatask.Q(p.keys[0][0])
		set = append(set, k+" = b."+k) // update without set: rows match, nothing changes
	}
	q := "MERGE INTO " + target + " AS b USING (SELECT c.*, k.* FROM " + classify + " CROSS JOIN " + consts +
		" AS k WHERE c.__sw_reason IS NULL) AS c ON " + strings.Join(on, " AND ")
	switch op {
	case "delete":
		q += " WHEN MATCHED THEN DELETE"
	case "update", "upsert":
		q += " WHEN MATCHED THEN UPDATE SET " + strings.Join(set, ", ")
	}
	if op == "insert" || op == "upsert" {
		q += " WHEN NOT MATCHED THEN INSERT (" + strings.Join(cols, ", ") + ") VALUES (" + strings.Join(vals, ", ") + ")"
	}
	return q
}

func (u *updater) unload(ref dataset.Ref, sel string) string {
	loc := u.a.Location(ref.Key(athenaDir))
	return "UNLOAD (" + sel + ") TO " + dataset.QuoteLiteral(loc) + " WITH (format = 'PARQUET', compression = 'SNAPPY')"
}

func clearUnload(ctx context.Context, store blob.Store, ref dataset.Ref) error {
	keys, err := blob.Keys(ctx, store, ref.Key(athenaDir)+"/")
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := store.Delete(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// portsRecorded reports whether both ports' datasets are recorded: the
// activity ran every query and finish began.
func (u *updater) portsRecorded() (bool, error) {
	for _, port := range []string{"out", "rejects"} {
		_, err := dataset.ReadManifest(u.t.Ctx, u.t.Engine.Store(), u.t.Out(port))
		if errors.Is(err, dataset.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}

// unloaded records the files Athena's UNLOAD wrote under ref as its dataset.
func unloaded(ctx context.Context, store blob.Store, out dataset.Output, cols []campaign.Column) (*dataset.Manifest, error) {
	prefix := out.Ref.Key(athenaDir) + "/"
	keys, err := blob.Keys(ctx, store, prefix)
	if err != nil {
		return nil, err
	}
	files := make([]string, len(keys))
	for i, k := range keys {
		files[i] = athenaDir + "/" + strings.TrimPrefix(k, prefix)
	}
	return dataset.RecordFiles(ctx, store, out, cols, files)
}

// finishAthena records the ports and the counts, then (unless in test mode
// or when no row applies) the merged table as the next version, committed
// over the version the rows were classified against.
func (u *updater) finishAthena(res *activity.Result) (*activity.Result, error) {
	t := u.t
	store := t.Engine.Store()
	b, err := blob.ReadAll(t.Ctx, store, u.attemptPath())
	if err != nil {
		return nil, fmt.Errorf("update-data: the plan's record: %w", err)
	}
	var att athenaAttempt
	if err := json.Unmarshal(b, &att); err != nil {
		return nil, fmt.Errorf("update-data: the plan's record: %w", err)
	}
	m := u.in.Manifest
	rejCols := slices.DeleteFunc(slices.Clone(m.Columns), func(c campaign.Column) bool { return c.Name == "reason" })
	rejCols = append(rejCols, campaign.Column{Name: "reason", Type: campaign.TypeString})
	counts, err := u.readCounts()
	if err != nil {
		return nil, err
	}
	var applied int64
	for _, k := range []string{"inserted", "updated", "deleted"} {
		applied += counts[k]
	}
	p := &plan{counts: counts}
	if att.Apply && applied > 0 {
		if err := u.commitAthena(att, counts); err != nil {
			return nil, err
		}
	} else if att.Apply {
		// Nothing applied: the copy still holds the version read.
		if err := u.markClean(att.Base); err != nil {
			return nil, err
		}
		t.Logf("%s: no row applies (%d rejected); version %d stays current", u.tbl.Name, counts["rejected"], att.Base)
	} else {
		t.Logf("test mode: would apply %d rows to %s (version %d), %d rejected; nothing written", applied, u.tbl.Name, att.Base, counts["rejected"])
	}
	for _, port := range []struct {
		name string
		key  []string
		cols []campaign.Column
	}{{"out", m.Key, m.Columns}, {"rejects", nil, rejCols}} {
		pm, err := unloaded(t.Ctx, store, dataset.Output{Ref: t.Out(port.name), Dimension: m.Dimension, Key: port.key, CreatedAt: t.Now()}, port.cols)
		if err != nil {
			return nil, portErr(port.name, err)
		}
		res.Set(port.name, string(t.Out(port.name)), pm.Rows)
	}
	if att.Apply && applied > 0 {
		t.Logf("committed %s version %d on Athena: %s; %d rejected", u.tbl.Name, att.Base+1, p.summary(), counts["rejected"])
	}
	return res, nil
}

// readCounts reads the UNLOAD of the counts (rows by kind).
func (u *updater) readCounts() (map[string]int64, error) {
	t := u.t
	cm, err := unloaded(t.Ctx, t.Engine.Store(), dataset.Output{Ref: t.Out(countsPort), CreatedAt: t.Now()},
		[]campaign.Column{{Name: "kind", Type: campaign.TypeString}, {Name: "n", Type: campaign.TypeInteger}})
	if err != nil {
		return nil, fmt.Errorf("update-data: counts: %w", err)
	}
	counts := map[string]int64{}
	if cm.Rows == 0 {
		return counts, nil
	}
	view := t.View("counts")
	if _, err := t.Engine.StageDataset(t.Ctx, view, t.Out(countsPort)); err != nil {
		return nil, fmt.Errorf("update-data: counts: %w", err)
	}
	err = t.Engine.Query(t.Ctx, 10, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			k, _ := r[0].(string)
			n, _ := r[1].(int64)
			counts[k] += n
		}
		return nil
	}, "SELECT CAST(kind AS VARCHAR), CAST(n AS BIGINT) FROM "+datatask.Q(view))
	return counts, err
}

// commitAthena records the merged table as version att.Base+1 and commits
// it: the copy must still be this update's (another update that changed it
// since would be in it), and the table still at att.Base.
func (u *updater) commitAthena(att athenaAttempt, counts map[string]int64) error {
	t := u.t
	next := att.Base + 1
	if v, err := u.st.Version(t.Ctx, u.tbl.Name, next); err == nil && v.Ref == att.Ref {
		return u.markClean(next) // a retried finish: committed already
	} else if err != nil && !errors.Is(err, state.ErrNotFound) {
		return fmt.Errorf("update-data: table version: %w", err)
	}
	mark, err := u.readMark()
	if err != nil {
		return err
	}
	if mark.Clean || mark.Tag != u.tag || mark.Version != att.Base {
		return &activity.Conflict{Msg: fmt.Sprintf("update-data: another update of %s ran on its Iceberg table meanwhile; nothing committed (the next update reloads it)", u.tbl.Name)}
	}
	vm, err := unloaded(t.Ctx, t.Warehouse().Store(), dataset.Output{Ref: dataset.Ref(att.Ref), Dimension: u.tbl.Name, Key: u.tbl.Key, CreatedAt: t.Now()}, att.Columns)
	if err != nil {
		return fmt.Errorf("update-data: record version %d of %s: %w", next, u.tbl.Name, err)
	}
	// The merged table holds this update's rows and no other's: what an
	// interleaved update's inserts or deletes would change.
	if want := att.BaseRows + counts["inserted"] - counts["deleted"]; vm.Rows != want {
		return &activity.Conflict{Msg: fmt.Sprintf("update-data: %s: the merged table has %d rows, %d expected (version %d: %d, %d inserted, %d deleted): another update ran on its Iceberg table meanwhile; nothing committed",
			u.tbl.Name, vm.Rows, want, att.Base, att.BaseRows, counts["inserted"], counts["deleted"])}
	}
	if err := u.record(attempt{Version: next, Ref: att.Ref}); err != nil {
		return err
	}
	_, err = u.st.CommitTable(t.Ctx, u.tbl.Name, att.Base, att.Ref, t.Env.Now())
	if errors.Is(err, state.ErrConflict) {
		return &activity.Conflict{Msg: fmt.Sprintf("update-data: table %s moved past version %d while this update ran on Athena; nothing committed", u.tbl.Name, att.Base)}
	}
	if err != nil {
		return fmt.Errorf("update-data: commit %s: %w", u.tbl.Name, err)
	}
	return u.markClean(next)
}

// markClean says the copy holds version v, if this update still owns it.
func (u *updater) markClean(v int64) error {
	mark, err := u.readMark()
	if err != nil {
		return err
	}
	if mark.Tag != u.tag {
		return nil
	}
	return u.writeMark(icebergMark{Version: v, Clean: true})
}
