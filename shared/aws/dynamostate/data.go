package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

const headSK = "HEAD"

func historySK(v int64) string { return fmt.Sprintf("V#%020d", v) }

func tablePK(name string) string { return "TABLE#" + name }

// CurrentTable implements state.Tables.
func (s *Store) CurrentTable(ctx context.Context, table string) (state.TableVersion, error) {
	v, err := getRec[state.TableVersion](ctx, s, tablePK(table), headSK)
	if errors.Is(err, state.ErrNotFound) {
		v = state.TableVersion{Table: table}
	}
	return v, err
}

// CommitTable implements state.Tables.
func (s *Store) CommitTable(ctx context.Context, table string, expected int64, ref string, at time.Time) (state.TableVersion, error) {
	pk := tablePK(table)
	it, err := s.modify(ctx, pk, headSK, func(cur item) (change, error) {
		v := state.TableVersion{Table: table}
		if cur != nil {
			var err error
			if v, err = decode[state.TableVersion](cur); err != nil {
				return change{}, err
			}
		}
		v, err := state.NextTableVersion(v, table, expected, ref, at)
		return change{
			head:    &rec{pk: pk, sk: headSK, gsi1pk: "TABLES", gsi1sk: table, data: v},
			creates: []rec{{pk: pk, sk: historySK(v.Version), data: v}},
		}, err
	})
	if err != nil {
		return state.TableVersion{}, err
	}
	return decode[state.TableVersion](it)
}

// TableHistory implements state.Tables.
func (s *Store) TableHistory(ctx context.Context, table string) ([]state.TableVersion, error) {
	items, _, err := s.list(ctx, "", "pk", tablePK(table), "sk", "V#", state.Page{}, true)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.TableVersion](items)
}

// ListTables implements state.Tables.
func (s *Store) ListTables(ctx context.Context) ([]state.TableVersion, error) {
	items, _, err := s.list(ctx, GSI1, "gsi1pk", "TABLES", "gsi1sk", "", state.Page{}, false)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.TableVersion](items)
}

func audiencePK(name string) string { return "AUDIENCE#" + name }

// SaveAudience implements state.Audiences.
func (s *Store) SaveAudience(ctx context.Context, a state.Audience) (state.Audience, error) {
	pk := audiencePK(a.Name)
	it, err := s.modify(ctx, pk, headSK, func(cur item) (change, error) {
		var prev state.Audience
		if cur != nil {
			var err error
			if prev, err = decode[state.Audience](cur); err != nil {
				return change{}, err
			}
		}
		next, err := state.NextAudience(prev, a)
		return change{
			head:    &rec{pk: pk, sk: headSK, gsi1pk: "AUDIENCES", gsi1sk: a.Name, data: next},
			creates: []rec{{pk: pk, sk: historySK(next.Version), data: next}},
		}, err
	})
	if err != nil {
		return state.Audience{}, err
	}
	return decode[state.Audience](it)
}

// GetAudience implements state.Audiences.
func (s *Store) GetAudience(ctx context.Context, name string) (state.Audience, error) {
	return getRec[state.Audience](ctx, s, audiencePK(name), headSK)
}

// AudienceHistory implements state.Audiences.
func (s *Store) AudienceHistory(ctx context.Context, name string) ([]state.Audience, error) {
	items, _, err := s.list(ctx, "", "pk", audiencePK(name), "sk", "V#", state.Page{}, true)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.Audience](items)
}

// ListAudiences implements state.Audiences.
func (s *Store) ListAudiences(ctx context.Context) ([]state.Audience, error) {
	items, _, err := s.list(ctx, GSI1, "gsi1pk", "AUDIENCES", "gsi1sk", "", state.Page{}, false)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.Audience](items)
}

func incrementalSK(activity string) string { return "INCR#" + activity }

// GetIncremental implements state.Incrementals.
func (s *Store) GetIncremental(ctx context.Context, campaignID, activity string) (state.Incremental, error) {
	inc, err := getRec[state.Incremental](ctx, s, campaignPK(campaignID), incrementalSK(activity))
	if errors.Is(err, state.ErrNotFound) {
		inc = state.Incremental{CampaignID: campaignID, Activity: activity}
	}
	return inc, err
}

// AdvanceIncremental implements state.Incrementals.
func (s *Store) AdvanceIncremental(ctx context.Context, campaignID, activity string, expectedRev int64, r state.IncrementalRun) (state.Incremental, error) {
	pk, sk := campaignPK(campaignID), incrementalSK(activity)
	it, err := s.modify(ctx, pk, sk, func(cur item) (change, error) {
		inc := state.Incremental{CampaignID: campaignID, Activity: activity}
		if cur != nil {
			var err error
			if inc, err = decode[state.Incremental](cur); err != nil {
				return change{}, err
			}
		}
		inc, err := state.AdvanceIncremental(inc, expectedRev, r)
		return change{head: &rec{pk: pk, sk: sk, data: inc}}, err
	})
	if err != nil {
		return state.Incremental{}, err
	}
	return decode[state.Incremental](it)
}

// ResetIncremental implements state.Incrementals.
func (s *Store) ResetIncremental(ctx context.Context, campaignID, activity string) error {
	_, err := s.modify(ctx, campaignPK(campaignID), incrementalSK(activity), func(cur item) (change, error) {
		return change{del: cur != nil}, nil
	})
	return err
}

func keyPK(k string) string { return "KEY#" + k }

// PutKey implements state.Keys.
func (s *Store) PutKey(ctx context.Context, k state.Key) (state.Key, bool, error) {
	if k.Key == "" {
		return k, false, fmt.Errorf("%w: key is empty", state.ErrInvalid)
	}
	k.CreatedAt = state.Stamp(k.CreatedAt)
	if !k.ExpiresAt.IsZero() {
		k.ExpiresAt = k.ExpiresAt.UTC()
	}
	created := false
	it, err := s.modify(ctx, keyPK(k.Key), "KEY", func(cur item) (change, error) {
		if cur != nil {
			held, err := decode[state.Key](cur)
			if err != nil || held.Live(k.CreatedAt) {
				created = false
				return change{}, err
			}
		}
		created = true
		return change{head: &rec{pk: keyPK(k.Key), sk: "KEY", expiresAt: k.ExpiresAt, data: k}}, nil
	})
	if err != nil {
		return state.Key{}, false, err
	}
	held, err := decode[state.Key](it)
	return held, created, err
}

// GetKey implements state.Keys.
func (s *Store) GetKey(ctx context.Context, key string, now time.Time) (state.Key, error) {
	k, err := getRec[state.Key](ctx, s, keyPK(key), "KEY")
	if err == nil && !k.Live(state.Stamp(now)) {
		k, err = state.Key{}, fmt.Errorf("%w: key %s expired", state.ErrNotFound, key)
	}
	return k, err
}

func firingSK(slot time.Time) string { return "FIRING#" + state.TimeKey(slot) }

// ClaimFiring implements state.Schedules.
func (s *Store) ClaimFiring(ctx context.Context, f state.Firing) (state.Firing, bool, error) {
	f, err := state.NewFiring(f)
	if err != nil {
		return f, false, err
	}
	it, err := s.create(ctx, rec{pk: campaignPK(f.CampaignID), sk: firingSK(f.Slot), data: f})
	claimed := err == nil
	if errors.Is(err, state.ErrExists) {
		err = nil
	}
	if err != nil {
		return f, false, err
	}
	f, err = decode[state.Firing](it)
	return f, claimed, err
}

// GetFiring implements state.Schedules.
func (s *Store) GetFiring(ctx context.Context, campaignID string, slot time.Time) (state.Firing, error) {
	return getRec[state.Firing](ctx, s, campaignPK(campaignID), firingSK(slot))
}

// ListFirings implements state.Schedules.
func (s *Store) ListFirings(ctx context.Context, campaignID string, p state.Page) ([]state.Firing, string, error) {
	items, next, err := s.list(ctx, "", "pk", campaignPK(campaignID), "sk", "FIRING#", p, true)
	if err != nil {
		return nil, "", err
	}
	list, err := decodeAll[state.Firing](items)
	return list, next, err
}
