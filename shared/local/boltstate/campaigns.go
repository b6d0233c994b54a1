package boltstate

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stepwise-run/stepwise/shared/state"
)

func getCampaign(tx *bolt.Tx, id string) (state.Campaign, error) {
	var c state.Campaign
	ok, err := get(tx.Bucket(bCampaigns), key(id), &c)
	if err == nil && !ok {
		err = notFound("campaign", id)
	}
	return c, err
}

// CreateCampaign implements state.Campaigns.
func (s *Store) CreateCampaign(ctx context.Context, c state.Campaign) (state.Campaign, error) {
	c, err := state.NewCampaign(c)
	if err != nil {
		return c, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bCampaigns)
		if b.Get(key(c.ID)) != nil {
			return fmt.Errorf("%w: campaign %s", state.ErrExists, c.ID)
		}
		c, err = put(b, key(c.ID), c)
		return err
	})
	return c, err
}

// GetCampaign implements state.Campaigns.
func (s *Store) GetCampaign(ctx context.Context, id string) (c state.Campaign, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c, err = getCampaign(tx, id)
		return err
	})
	return c, err
}

// ListCampaigns implements state.Campaigns.
func (s *Store) ListCampaigns(ctx context.Context) (list []state.Campaign, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.Campaign](tx.Bucket(bCampaigns), nil, state.Page{}, false)
		return err
	})
	return list, err
}

// modifyCampaign stores fn's change of the campaign id; fn may write more in tx.
func (s *Store) modifyCampaign(ctx context.Context, id string, fn func(*bolt.Tx, state.Campaign) (state.Campaign, error)) (c state.Campaign, err error) {
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if c, err = getCampaign(tx, id); err != nil {
			return err
		}
		if c, err = fn(tx, c); err != nil {
			return err
		}
		c, err = put(tx.Bucket(bCampaigns), key(id), c)
		return err
	})
	return c, err
}

// UpdateCampaign implements state.Campaigns.
func (s *Store) UpdateCampaign(ctx context.Context, next state.Campaign) (state.Campaign, error) {
	return s.modifyCampaign(ctx, next.ID, func(_ *bolt.Tx, cur state.Campaign) (state.Campaign, error) {
		return state.EditCampaign(cur, next)
	})
}

// SetCampaignStatus implements state.Campaigns.
func (s *Store) SetCampaignStatus(ctx context.Context, id string, from, to state.CampaignStatus, at time.Time) (state.Campaign, error) {
	return s.modifyCampaign(ctx, id, func(_ *bolt.Tx, cur state.Campaign) (state.Campaign, error) {
		return state.MoveCampaign(cur, from, to, at)
	})
}

// PublishVersion implements state.Campaigns.
func (s *Store) PublishVersion(ctx context.Context, v state.Version, from, to state.CampaignStatus) (state.Campaign, error) {
	return s.modifyCampaign(ctx, v.CampaignID, func(tx *bolt.Tx, cur state.Campaign) (state.Campaign, error) {
		c, v, err := state.PublishCampaign(cur, v, from, to)
		if err != nil {
			return cur, err
		}
		b := tx.Bucket(bVersions)
		k := key(v.CampaignID, number(int64(v.Number), 10))
		if b.Get(k) != nil {
			return cur, fmt.Errorf("%w: campaign %s version %d exists", state.ErrConflict, v.CampaignID, v.Number)
		}
		_, err = put(b, k, v)
		return c, err
	})
}

// GetVersion implements state.Campaigns.
func (s *Store) GetVersion(ctx context.Context, campaignID string, n int) (v state.Version, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bVersions), key(campaignID, number(int64(n), 10)), &v)
		if err == nil && !ok {
			err = notFound("campaign version", campaignID, n)
		}
		return err
	})
	return v, err
}

// ListVersions implements state.Campaigns.
func (s *Store) ListVersions(ctx context.Context, campaignID string) (list []state.Version, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, _, err = scan[state.Version](tx.Bucket(bVersions), prefix(campaignID), state.Page{}, true)
		return err
	})
	return list, err
}

// DeleteCampaign implements state.Campaigns.
func (s *Store) DeleteCampaign(ctx context.Context, id string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		c, err := getCampaign(tx, id)
		if err != nil {
			return err
		}
		if c.Status != state.CampaignDraft {
			return fmt.Errorf("%w: campaign %s is %s; only drafts are deleted", state.ErrConflict, id, c.Status)
		}
		return tx.Bucket(bCampaigns).Delete(key(id))
	})
}
