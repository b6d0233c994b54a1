package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Tables is the part of the state store that versions managed tables.
type Tables interface {
	CurrentTable(ctx context.Context, table string) (state.TableVersion, error)
	CommitTable(ctx context.Context, table string, expected int64, ref string, at time.Time) (state.TableVersion, error)
}

// maxCommitAttempts bounds the retries of a commit that lost a race.
const maxCommitAttempts = 5

// Append adds records to message_feedback as a new table version (the
// current rows plus the records whose eventId is new) and returns how many
// rows it added. workDir holds a scratch file. A commit that loses a race
// with another writer is redone on the new version.
func Append(ctx context.Context, eng *dataset.Engine, tables Tables, workDir string, recs []Record, at time.Time) (int64, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	f, err := os.CreateTemp(workDir, "feedback-*.jsonl")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	enc := json.NewEncoder(f)
	for _, r := range recs {
		if r.ID == "" {
			f.Close()
			return 0, fmt.Errorf("feedback record without eventId")
		}
		r.At = r.At.UTC()
		if err := enc.Encode(r); err != nil {
			f.Close()
			return 0, err
		}
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	return AppendQuery(ctx, eng, tables, at, "SELECT * FROM "+ReadJSON(f.Name()))
}

// ReadJSON is a FROM item reading Record JSON lines with the table's types.
func ReadJSON(path string) string {
	cols := make([]string, len(Columns))
	for i, c := range Columns {
		t, _ := dataset.DuckDBType(c)
		cols[i] = dataset.QuoteLiteral(c.Name) + ": " + dataset.QuoteLiteral(t)
	}
	return "read_json(" + dataset.QuoteLiteral(path) + ", format = 'newline_delimited', columns = {" + strings.Join(cols, ", ") + "})"
}

// AppendQuery adds the rows of query (which must return Columns, by name)
// whose eventId is not yet in the table, as a new table version.
func AppendQuery(ctx context.Context, eng *dataset.Engine, tables Tables, at time.Time, query string, args ...any) (int64, error) {
	sel := make([]string, len(Columns))
	for i, c := range Columns {
		t, _ := dataset.DuckDBType(c)
		sel[i] = "CAST(" + dataset.QuoteIdent(c.Name) + " AS " + t + ") AS " + dataset.QuoteIdent(c.Name)
	}
	newRows := "SELECT " + strings.Join(sel, ", ") + " FROM (" + query + ") AS q"
	for attempt := 1; ; attempt++ {
		cur, err := tables.CurrentTable(ctx, Table)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return 0, err
		}
		old := emptyTable()
		if cur.Ref != "" {
			view := fmt.Sprintf("sw_feedback_%d_%d", time.Now().UnixNano(), attempt)
			if _, err := eng.StageDataset(ctx, view, dataset.Ref(cur.Ref)); err != nil {
				return 0, fmt.Errorf("%s version %d: %w", Table, cur.Version, err)
			}
			defer eng.Exec(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+dataset.QuoteIdent(view))
			old = "SELECT " + colList() + " FROM " + dataset.QuoteIdent(view)
		}
		q := "WITH old AS (" + old + "), fresh AS (SELECT DISTINCT ON (eventId) * FROM (" + newRows + ") AS n " +
			"WHERE eventId NOT IN (SELECT eventId FROM old) ORDER BY eventId) " +
			"SELECT * FROM old UNION ALL SELECT " + colList() + " FROM fresh"
		before := int64(0)
		if cur.Ref != "" {
			if m, err := dataset.ReadManifest(ctx, eng.Store(), dataset.Ref(cur.Ref)); err == nil {
				before = m.Rows
			}
		}
		ref, m, err := eng.WriteTable(ctx, Table, cur.Version+1, Key, q, args...)
		if err != nil {
			return 0, err
		}
		if m.Rows == before {
			// Nothing new: keep the current version.
			for _, f := range m.Files {
				eng.Store().Delete(ctx, ref.Key(f))
			}
			eng.Store().Delete(ctx, ref.ManifestKey())
			return 0, nil
		}
		_, err = tables.CommitTable(ctx, Table, cur.Version, string(ref), at)
		if err == nil {
			return m.Rows - before, nil
		}
		if !errors.Is(err, state.ErrConflict) || attempt >= maxCommitAttempts {
			return 0, err
		}
	}
}

func colList() string {
	q := make([]string, len(Columns))
	for i, c := range Columns {
		q[i] = dataset.QuoteIdent(c.Name)
	}
	return strings.Join(q, ", ")
}

func emptyTable() string {
	sel := make([]string, len(Columns))
	for i, c := range Columns {
		t, _ := dataset.DuckDBType(c)
		sel[i] = "CAST(NULL AS " + t + ") AS " + dataset.QuoteIdent(c.Name)
	}
	return "SELECT " + strings.Join(sel, ", ") + " WHERE false"
}
