package boltstate

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stepwise-run/stepwise/shared/state"
)

// CurrentTable implements state.Tables.
func (s *Store) CurrentTable(ctx context.Context, table string) (v state.TableVersion, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bTables), key(table), &v)
		if err == nil && !ok {
			v = state.TableVersion{Table: table}
			err = notFound("table", table)
		}
		return err
	})
	return v, err
}

// CommitTable implements state.Tables.
func (s *Store) CommitTable(ctx context.Context, table string, expected int64, ref string, at time.Time) (v state.TableVersion, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		heads := tx.Bucket(bTables)
		cur := state.TableVersion{Table: table}
		if _, err := get(heads, key(table), &cur); err != nil {
			return err
		}
		if v, err = state.NextTableVersion(cur, table, expected, ref, at); err != nil {
			return err
		}
		if _, err := put(tx.Bucket(bTableHistory), key(table, number(v.Version, 20)), v); err != nil {
			return err
		}
		v, err = put(heads, key(table), v)
		return err
	})
	return v, err
}

// TableHistory implements state.Tables.
func (s *Store) TableHistory(ctx context.Context, table string) (list []state.TableVersion, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.TableVersion](tx.Bucket(bTableHistory), prefix(table), state.Page{}, true)
		return err
	})
	return list, err
}

// ListTables implements state.Tables.
func (s *Store) ListTables(ctx context.Context) (list []state.TableVersion, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.TableVersion](tx.Bucket(bTables), nil, state.Page{}, false)
		return err
	})
	return list, err
}

// SaveAudience implements state.Audiences.
func (s *Store) SaveAudience(ctx context.Context, a state.Audience) (out state.Audience, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		heads := tx.Bucket(bAudiences)
		var cur state.Audience
		if _, err := get(heads, key(a.Name), &cur); err != nil {
			return err
		}
		if out, err = state.NextAudience(cur, a); err != nil {
			return err
		}
		if _, err := put(tx.Bucket(bAudienceHistory), key(a.Name, number(out.Version, 20)), out); err != nil {
			return err
		}
		out, err = put(heads, key(a.Name), out)
		return err
	})
	return out, err
}

// GetAudience implements state.Audiences.
func (s *Store) GetAudience(ctx context.Context, name string) (a state.Audience, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bAudiences), key(name), &a)
		if err == nil && !ok {
			err = notFound("audience", name)
		}
		return err
	})
	return a, err
}

// AudienceHistory implements state.Audiences.
func (s *Store) AudienceHistory(ctx context.Context, name string) (list []state.Audience, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.Audience](tx.Bucket(bAudienceHistory), prefix(name), state.Page{}, true)
		return err
	})
	return list, err
}

// ListAudiences implements state.Audiences.
func (s *Store) ListAudiences(ctx context.Context) (list []state.Audience, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.Audience](tx.Bucket(bAudiences), nil, state.Page{}, false)
		return err
	})
	return list, err
}

// GetIncremental implements state.Incrementals.
func (s *Store) GetIncremental(ctx context.Context, campaignID, activity string) (inc state.Incremental, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bIncrementals), key(campaignID, activity), &inc)
		if err == nil && !ok {
			inc = state.Incremental{CampaignID: campaignID, Activity: activity}
			err = notFound("incremental", campaignID, activity)
		}
		return err
	})
	return inc, err
}

// AdvanceIncremental implements state.Incrementals.
func (s *Store) AdvanceIncremental(ctx context.Context, campaignID, activity string, expectedRev int64, r state.IncrementalRun) (inc state.Incremental, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bIncrementals)
		k := key(campaignID, activity)
		inc = state.Incremental{CampaignID: campaignID, Activity: activity}
		if _, err := get(b, k, &inc); err != nil {
			return err
		}
		if inc, err = state.AdvanceIncremental(inc, expectedRev, r); err != nil {
			return err
		}
		inc, err = put(b, k, inc)
		return err
	})
	return inc, err
}

// ResetIncremental implements state.Incrementals.
func (s *Store) ResetIncremental(ctx context.Context, campaignID, activity string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bIncrementals).Delete(key(campaignID, activity))
	})
}

// PutKey implements state.Keys.
func (s *Store) PutKey(ctx context.Context, k state.Key) (held state.Key, created bool, err error) {
	if k.Key == "" {
		return k, false, fmt.Errorf("%w: key is empty", state.ErrInvalid)
	}
	k.CreatedAt = state.Stamp(k.CreatedAt)
	if !k.ExpiresAt.IsZero() {
		k.ExpiresAt = k.ExpiresAt.UTC()
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bKeys)
		ok, err := get(b, key(k.Key), &held)
		if err != nil || ok && held.Live(k.CreatedAt) {
			return err
		}
		created = true
		held, err = put(b, key(k.Key), k)
		return err
	})
	return held, created, err
}

// GetKey implements state.Keys.
func (s *Store) GetKey(ctx context.Context, name string, now time.Time) (k state.Key, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bKeys), key(name), &k)
		if err == nil && (!ok || !k.Live(state.Stamp(now))) {
			k, err = state.Key{}, notFound("key", name)
		}
		return err
	})
	return k, err
}

// ClaimFiring implements state.Schedules.
func (s *Store) ClaimFiring(ctx context.Context, f state.Firing) (out state.Firing, claimed bool, err error) {
	if f, err = state.NewFiring(f); err != nil {
		return f, false, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bFirings)
		k := key(f.CampaignID, state.TimeKey(f.Slot))
		ok, err := get(b, k, &out)
		if err != nil || ok {
			return err
		}
		claimed = true
		out, err = put(b, k, f)
		return err
	})
	return out, claimed, err
}

// GetFiring implements state.Schedules.
func (s *Store) GetFiring(ctx context.Context, campaignID string, slot time.Time) (f state.Firing, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bFirings), key(campaignID, state.TimeKey(slot)), &f)
		if err == nil && !ok {
			err = notFound("firing", campaignID, slot)
		}
		return err
	})
	return f, err
}

// ListFirings implements state.Schedules.
func (s *Store) ListFirings(ctx context.Context, campaignID string, p state.Page) (list []state.Firing, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, next, err = scan[state.Firing](tx.Bucket(bFirings), prefix(campaignID), p, true)
		return err
	})
	return list, next, err
}
