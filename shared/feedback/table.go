package feedback

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"sync/atomic"
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
// whose eventId is not yet in the table, as a new table version, and returns
// how many it added.
//
// The cost is the batch's, not the table's: the new rows are written as one
// Parquet part (sorted by eventId) with its key index, and the new version's
// manifest lists the earlier versions' parts plus this one. The batch is
// checked against the stored ids through the parts' key indexes (see
// keyHash). A version written whole (format 1, as by update-data) is taken
// over as parts once: its files get key indexes, an O(table) read. The
// version is committed as any table version (data first, marker last,
// created only if absent); a writer that loses the race discards its files
// and redoes the check on the new head. Now and then an append merges small
// parts (see Compact).
func AppendQuery(ctx context.Context, eng *dataset.Engine, tables Tables, at time.Time, query string, args ...any) (int64, error) {
	batch := fmt.Sprintf("sw_feedback_batch_%d_%d", time.Now().UnixNano(), batchSeq.Add(1))
	if err := eng.Exec(ctx, "CREATE TABLE "+dataset.QuoteIdent(batch)+" AS SELECT DISTINCT ON (eventId) "+castList()+
		" FROM ("+query+") AS q ORDER BY "+colList(), args...); err != nil {
		return 0, fmt.Errorf("%s: %w", Table, err)
	}
	defer eng.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+dataset.QuoteIdent(batch))
	ids := map[keyHash]string{}
	var keys []keyHash
	err := eng.Query(ctx, 10_000, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			id, ok := r[0].(string)
			if !ok {
				return fmt.Errorf("%s: a new row has no eventId", Table)
			}
			k := hashID(id)
			ids[k] = id
			keys = append(keys, k)
		}
		return nil
	}, "SELECT eventId FROM "+dataset.QuoteIdent(batch))
	if err != nil {
		return 0, err
	}
	for attempt := 1; len(keys) > 0; attempt++ {
		cur, err := tables.CurrentTable(ctx, Table)
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return 0, err
		}
		ref := dataset.NewTableVersion(Table, cur.Version+1)
		v := &version{eng: eng, ref: ref}
		added, err := v.append(ctx, cur, batch, ids, &keys, at)
		if err != nil {
			v.discard(ctx)
			return 0, err
		}
		if added == 0 {
			v.discard(ctx)
			return 0, nil
		}
		_, err = tables.CommitTable(ctx, Table, cur.Version, string(ref), at)
		if err == nil {
			// Best effort: a compaction that fails or loses a race leaves
			// more parts, and the next append tries again.
			Compact(ctx, eng, tables, at)
			return added, nil
		}
		v.discard(ctx)
		if !errors.Is(err, state.ErrConflict) || attempt >= maxCommitAttempts {
			return 0, err
		}
	}
	return 0, nil
}

var batchSeq atomic.Int64

// version is a table version being written: what it wrote, to discard if it
// is not committed.
type version struct {
	eng     *dataset.Engine
	ref     dataset.Ref
	written []string // blob keys
}

func (v *version) discard(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	for _, k := range v.written {
		v.eng.Store().Delete(ctx, k)
	}
	v.eng.Store().Delete(ctx, v.ref.ManifestKey())
}

// append writes the rows of the batch table whose keys cur does not hold as
// a part of v, and v's manifest: cur's parts plus the new one. It drops the
// stored keys from the batch and from *keys, and returns the rows it wrote
// (0: nothing new, no manifest).
func (v *version) append(ctx context.Context, cur state.TableVersion, batch string, ids map[keyHash]string, keys *[]keyHash, at time.Time) (int64, error) {
	parts, err := v.partsOf(ctx, cur)
	if err != nil {
		return 0, err
	}
	found, err := stored(ctx, v.eng, v.ref, parts, *keys)
	if err != nil {
		return 0, err
	}
	if len(found) > 0 {
		fresh := (*keys)[:0]
		var dup []string
		for _, k := range *keys {
			if found[k] {
				dup = append(dup, dataset.QuoteLiteral(ids[k]))
			} else {
				fresh = append(fresh, k)
			}
		}
		*keys = fresh
		for len(dup) > 0 {
			n := min(len(dup), 1000)
			if err := v.eng.Exec(ctx, "DELETE FROM "+dataset.QuoteIdent(batch)+" WHERE eventId IN ("+strings.Join(dup[:n], ", ")+")"); err != nil {
				return 0, fmt.Errorf("%s: %w", Table, err)
			}
			dup = dup[n:]
		}
	}
	if len(*keys) == 0 {
		return 0, nil
	}
	part, err := v.eng.WritePart(ctx, v.ref, Columns, "SELECT * FROM "+dataset.QuoteIdent(batch)+" ORDER BY eventId")
	if err != nil {
		return 0, err
	}
	v.written = append(v.written, v.ref.PartKey(part.File))
	if part.Keys, err = v.putKeys(ctx, part.File, slices.Clone(*keys)); err != nil {
		return 0, err
	}
	if _, err := v.eng.CommitParts(ctx, v.ref, Table, Key, Columns, append(parts, part), at); err != nil {
		return 0, err
	}
	return part.Rows, nil
}

// putKeys writes the key index of the part file (table-relative) into v.
func (v *version) putKeys(ctx context.Context, file string, ks []keyHash) (string, error) {
	rel := v.ref.PartFile(strings.TrimSuffix(path.Base(file), ".parquet") + ".keys")
	if err := putKeys(ctx, v.eng, v.ref, rel, ks); err != nil {
		return "", err
	}
	v.written = append(v.written, v.ref.PartKey(rel))
	return rel, nil
}

// partsOf returns the parts of version cur, each with a key index: a
// version written whole gets its files indexed into v.
func (v *version) partsOf(ctx context.Context, cur state.TableVersion) ([]dataset.Part, error) {
	if cur.Ref == "" {
		return nil, nil
	}
	ref := dataset.Ref(cur.Ref)
	m, err := dataset.ReadManifest(ctx, v.eng.Store(), ref)
	if err != nil {
		return nil, fmt.Errorf("%s version %d: %w", Table, cur.Version, err)
	}
	if m.Base != nil || m.Source != nil {
		return nil, fmt.Errorf("%s version %d (%s) is not a plain table version", Table, cur.Version, ref)
	}
	parts := slices.Clone(m.Parts)
	if len(parts) == 0 {
		for _, f := range m.Files {
			parts = append(parts, dataset.Part{File: ref.PartFile(f)})
		}
	}
	for i, p := range parts {
		if p.Keys != "" {
			continue
		}
		local, err := v.eng.LocalFile(ctx, ref.PartKey(p.File))
		if err != nil {
			return nil, fmt.Errorf("%s version %d: %w", Table, cur.Version, err)
		}
		var ks []keyHash
		err = v.eng.Query(ctx, 10_000, func(b *dataset.Batch) error {
			for _, r := range b.Rows {
				id, _ := r[0].(string)
				ks = append(ks, hashID(id))
			}
			return nil
		}, "SELECT eventId FROM read_parquet("+dataset.QuoteLiteral(local)+")")
		if err != nil {
			return nil, fmt.Errorf("%s version %d: index %s: %w", Table, cur.Version, p.File, err)
		}
		fi, err := os.Stat(local)
		if err != nil {
			return nil, err
		}
		parts[i].Rows, parts[i].Bytes = int64(len(ks)), fi.Size()
		if parts[i].Keys, err = v.putKeys(ctx, p.File, ks); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

func castList() string {
	sel := make([]string, len(Columns))
	for i, c := range Columns {
		t, _ := dataset.DuckDBType(c)
		sel[i] = "CAST(" + dataset.QuoteIdent(c.Name) + " AS " + t + ") AS " + dataset.QuoteIdent(c.Name)
	}
	return strings.Join(sel, ", ")
}

func colList() string {
	q := make([]string, len(Columns))
	for i, c := range Columns {
		q[i] = dataset.QuoteIdent(c.Name)
	}
	return strings.Join(q, ", ")
}
