// Package tablelog keeps the version history of managed tables with their
// data, in the warehouse store itself, so that every home sharing one
// warehouse sees one history.
//
// Layout under the store (next to the versions' datasets):
//
//	warehouse/<table>/commits/<version, 20 digits>.json   commit marker (a state.TableVersion)
//	warehouse/<table>/head.json                            hint: a recently committed version
//
// A version is committed by creating its marker with blob.Store.PutIfAbsent
// (a hard link locally, If-None-Match: * on S3): version N+1 is committed
// exactly once, by the writer that read version N. The marker is written
// after the version's data, so a reader never sees a half-written version.
// The current version is the highest marker: readers start at the hint
// (which may lag or be missing) and probe forward.
package tablelog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Prefix is the key prefix of managed tables in a warehouse store.
const Prefix = "warehouse"

// Legacy is the state store that held table heads before they moved to the
// warehouse. A table with no commit marker yet takes its history from there
// (see Log.CurrentTable).
type Legacy interface {
	TableHistory(ctx context.Context, table string) ([]state.TableVersion, error)
}

// Log reads and commits table versions in a warehouse store.
type Log struct {
	store  blob.Store
	legacy Legacy
}

// New returns the log of the tables in store; legacy may be nil.
func New(store blob.Store, legacy Legacy) *Log {
	return &Log{store: store, legacy: legacy}
}

func commitsPrefix(table string) string { return blob.Join(Prefix, table, "commits") + "/" }

func markerKey(table string, version int64) string {
	return commitsPrefix(table) + fmt.Sprintf("%020d.json", version)
}

func hintKey(table string) string { return blob.Join(Prefix, table, "head.json") }

func checkTable(table string) error {
	if table == "" || strings.Contains(table, "/") || blob.CheckKey(table) != nil {
		return fmt.Errorf("%w: table name %q: want a non-empty name without /", state.ErrInvalid, table)
	}
	return nil
}

// Version returns committed version n of table; state.ErrNotFound when it
// is not committed.
func (l *Log) Version(ctx context.Context, table string, n int64) (state.TableVersion, error) {
	key := markerKey(table, n)
	b, err := blob.ReadAll(ctx, l.store, key)
	if errors.Is(err, blob.ErrNotFound) {
		return state.TableVersion{Table: table}, fmt.Errorf("%w: table %s version %d", state.ErrNotFound, table, n)
	}
	if err != nil {
		return state.TableVersion{}, err
	}
	var v state.TableVersion
	if err := json.Unmarshal(b, &v); err != nil || v.Table != table || v.Version != n || v.Ref == "" {
		return state.TableVersion{}, fmt.Errorf("tablelog: commit marker %s is damaged: want JSON {table: %q, version: %d, ref: ...}", key, table, n)
	}
	return v, nil
}

// CurrentTable returns the table's current version: state.ErrNotFound and
// Version 0 before its first commit. A table committed only in the legacy
// store is migrated first: its versions are copied as commit markers,
// newest first, so that a reader during the copy already finds the legacy
// head (a marker another home wrote first stops the copy; its history is
// the table's).
func (l *Log) CurrentTable(ctx context.Context, table string) (state.TableVersion, error) {
	if err := checkTable(table); err != nil {
		return state.TableVersion{Table: table}, err
	}
	v, err := l.head(ctx, table)
	if !errors.Is(err, state.ErrNotFound) || l.legacy == nil {
		return v, err
	}
	if err := l.migrate(ctx, table); err != nil {
		return v, err
	}
	return l.head(ctx, table)
}

// head finds the highest committed version (Version 0 and ErrNotFound when
// there is none).
func (l *Log) head(ctx context.Context, table string) (state.TableVersion, error) {
	none := state.TableVersion{Table: table}
	n, err := l.hint(ctx, table)
	if err != nil {
		return none, err
	}
	cur := none
	if n > 0 {
		if cur, err = l.Version(ctx, table, n); errors.Is(err, state.ErrNotFound) {
			n, cur = 0, none // a hint past the markers: trust the listing
		} else if err != nil {
			return none, err
		}
	}
	if n == 0 {
		if n, err = l.last(ctx, table); err != nil {
			return none, err
		}
		if n > 0 {
			if cur, err = l.Version(ctx, table, n); err != nil {
				return none, err
			}
		}
	}
	for {
		next, err := l.Version(ctx, table, cur.Version+1)
		if errors.Is(err, state.ErrNotFound) {
			break
		}
		if err != nil {
			return none, err
		}
		cur = next
	}
	if cur.Version == 0 {
		return cur, fmt.Errorf("%w: table %s has no committed version", state.ErrNotFound, table)
	}
	return cur, nil
}

// hint reads the head hint; 0 when it is missing or unreadable.
func (l *Log) hint(ctx context.Context, table string) (int64, error) {
	b, err := blob.ReadAll(ctx, l.store, hintKey(table))
	if errors.Is(err, blob.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var h struct {
		Version int64 `json:"version"`
	}
	if json.Unmarshal(b, &h) != nil || h.Version < 0 {
		return 0, nil // only a hint: the listing decides
	}
	return h.Version, nil
}

// last lists the markers and returns the highest version (0 when none).
func (l *Log) last(ctx context.Context, table string) (int64, error) {
	keys, err := blob.Keys(ctx, l.store, commitsPrefix(table))
	if err != nil {
		return 0, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if n, ok := markerVersion(keys[i]); ok {
			return n, nil
		}
	}
	return 0, nil
}

func markerVersion(key string) (int64, bool) {
	base, ok := strings.CutSuffix(path.Base(key), ".json")
	if !ok || len(base) != 20 {
		return 0, false
	}
	n, err := strconv.ParseInt(base, 10, 64)
	return n, err == nil && n > 0
}

// migrate copies the legacy history of table (newest first) into commit
// markers, newest first: the head is right from the first marker on. A copy
// cut short leaves older versions out of TableHistory, never a wrong head.
func (l *Log) migrate(ctx context.Context, table string) error {
	hist, err := l.legacy.TableHistory(ctx, table)
	if err != nil {
		return fmt.Errorf("tablelog: read the legacy history of %s: %w", table, err)
	}
	for i, v := range hist {
		if v.Version != int64(len(hist)-i) || v.Ref == "" {
			return fmt.Errorf("tablelog: the legacy history of %s has version %d at position %d: cannot migrate", table, v.Version, len(hist)-i)
		}
		err := l.create(ctx, v)
		if errors.Is(err, blob.ErrExists) {
			held, rerr := l.Version(ctx, table, v.Version)
			if rerr != nil {
				return rerr
			}
			if held.Ref != v.Ref {
				return nil // another home's history is the table's
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) create(ctx context.Context, v state.TableVersion) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return l.store.PutIfAbsent(ctx, markerKey(v.Table, v.Version), bytes.NewReader(b))
}

// CommitTable makes ref (a dataset written in full beforehand) the table's
// version expected+1, if the table is at version expected (0 before the
// first commit). state.ErrConflict otherwise: of racing writers from one
// version exactly one commits.
func (l *Log) CommitTable(ctx context.Context, table string, expected int64, ref string, at time.Time) (state.TableVersion, error) {
	if err := checkTable(table); err != nil {
		return state.TableVersion{}, err
	}
	if ref == "" || expected < 0 {
		return state.TableVersion{}, fmt.Errorf("%w: commit of %s needs a ref and a version ≥ 0", state.ErrInvalid, table)
	}
	if expected == 0 && l.legacy != nil {
		// A first commit must not hide a history still only in the legacy store.
		if _, err := l.CurrentTable(ctx, table); err != nil && !errors.Is(err, state.ErrNotFound) {
			return state.TableVersion{}, err
		}
	}
	if expected > 0 {
		// No gaps: the version built on must be committed.
		if _, err := l.Version(ctx, table, expected); errors.Is(err, state.ErrNotFound) {
			return state.TableVersion{}, fmt.Errorf("%w: table %s has no version %d", state.ErrConflict, table, expected)
		} else if err != nil {
			return state.TableVersion{}, err
		}
	}
	v := state.TableVersion{Table: table, Version: expected + 1, Ref: ref, CommittedAt: state.Stamp(at)}
	err := l.create(ctx, v)
	if errors.Is(err, blob.ErrExists) {
		return state.TableVersion{}, fmt.Errorf("%w: table %s moved past version %d", state.ErrConflict, table, expected)
	}
	if err != nil {
		return state.TableVersion{}, err
	}
	// Best effort: a stale or missing hint costs readers a probe or a listing.
	l.store.Put(ctx, hintKey(table), strings.NewReader(fmt.Sprintf(`{"version":%d}`, v.Version)))
	return v, nil
}

// TableHistory returns every committed version of table, newest first.
func (l *Log) TableHistory(ctx context.Context, table string) ([]state.TableVersion, error) {
	if err := checkTable(table); err != nil {
		return nil, err
	}
	keys, err := blob.Keys(ctx, l.store, commitsPrefix(table))
	if err != nil {
		return nil, err
	}
	var out []state.TableVersion
	for i := len(keys) - 1; i >= 0; i-- {
		n, ok := markerVersion(keys[i])
		if !ok {
			continue
		}
		v, err := l.Version(ctx, table, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
