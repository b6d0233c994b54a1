package feedback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/state"
)

// policy decides when parts merge. Parts are ranked in tiers of size
// (bytes): tier t holds parts of minBytes·fanout^t to minBytes·fanout^(t+1)
// bytes. When fanout or more trailing parts are of the last part's tier or
// below, they merge into one part (of the next tier, usually; merges
// cascade). Parts of maxBytes or more are never merged. A row is thus
// rewritten about once per tier, log_fanout(maxBytes/batch bytes) times in
// all whatever the table's size, and a table holds at most about fanout parts
// per tier besides the full ones.
type policy struct {
	fanout             int
	minBytes, maxBytes int64
}

var compaction = policy{fanout: 10, minBytes: 64 << 10, maxBytes: 128 << 20}

func (p policy) tier(bytes int64) int {
	t := 0
	for x := max(bytes, p.minBytes) / p.minBytes; x >= int64(p.fanout); x /= int64(p.fanout) {
		t++
	}
	return t
}

// plan returns the index of the first of the trailing parts to merge, or -1.
func (p policy) plan(parts []dataset.Part) int {
	if len(parts) == 0 || parts[len(parts)-1].Bytes >= p.maxBytes {
		return -1
	}
	t := p.tier(parts[len(parts)-1].Bytes)
	i := len(parts)
	for i > 0 && parts[i-1].Bytes < p.maxBytes && p.tier(parts[i-1].Bytes) <= t {
		i--
	}
	if len(parts)-i >= p.fanout {
		return i
	}
	return -1
}

// Compact merges the small trailing parts of message_feedback (see policy)
// into one, as new table versions committed like appends: a compaction that
// loses the race to an append (or another compaction) discards its files and
// plans again on the new head, so no appended row is lost. Rows keep their
// order; the merged part's bytes depend only on the merged parts'. It
// returns how many parts it merged.
func Compact(ctx context.Context, eng *dataset.Engine, tables Tables, at time.Time) (int, error) {
	merged := 0
	for attempt := 1; ; {
		cur, err := tables.CurrentTable(ctx, Table)
		if errors.Is(err, state.ErrNotFound) {
			return merged, nil
		}
		if err != nil {
			return merged, err
		}
		m, err := dataset.ReadManifest(ctx, eng.Store(), dataset.Ref(cur.Ref))
		if err != nil {
			return merged, fmt.Errorf("%s version %d: %w", Table, cur.Version, err)
		}
		from := compaction.plan(m.Parts)
		if from < 0 {
			return merged, nil // nothing to merge (a version written whole: the next append takes it over)
		}
		v := &version{eng: eng, ref: dataset.NewTableVersion(Table, cur.Version+1)}
		if err := v.merge(ctx, dataset.Ref(cur.Ref), m.Parts, from, at); err != nil {
			v.discard(ctx)
			return merged, err
		}
		_, err = tables.CommitTable(ctx, Table, cur.Version, string(v.ref), at)
		if err == nil {
			merged += len(m.Parts) - from
			attempt = 1
			continue // a merge can fill the next tier
		}
		v.discard(ctx)
		if !errors.Is(err, state.ErrConflict) || attempt >= maxCommitAttempts {
			return merged, err
		}
		attempt++
	}
}

// merge writes parts[from:] (of the version at cur) as one part of v, with
// the merged key index, and v's manifest.
func (v *version) merge(ctx context.Context, cur dataset.Ref, parts []dataset.Part, from int, at time.Time) error {
	var paths []string
	var keys []keyHash
	for _, p := range parts[from:] {
		if p.Keys == "" {
			return fmt.Errorf("%s: part %s has no key index", Table, p.File)
		}
		local, err := v.eng.LocalFile(ctx, cur.PartKey(p.File))
		if err != nil {
			return fmt.Errorf("%s: part %s: %w", Table, p.File, err)
		}
		paths = append(paths, dataset.QuoteLiteral(local))
		ks, err := readKeys(ctx, v.eng, cur, p)
		if err != nil {
			return err
		}
		keys = append(keys, ks...)
	}
	part, err := v.eng.WritePart(ctx, v.ref, Columns, "SELECT * FROM read_parquet(["+strings.Join(paths, ", ")+"])")
	if err != nil {
		return err
	}
	v.written = append(v.written, v.ref.PartKey(part.File))
	if part.Keys, err = v.putKeys(ctx, part.File, keys); err != nil {
		return err
	}
	_, err = v.eng.CommitParts(ctx, v.ref, Table, Key, Columns, append(slices.Clone(parts[:from]), part), at)
	return err
}
