package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

const campaignSK = "CAMPAIGN"

func campaignPK(id string) string { return "CAMPAIGN#" + id }

func campaignRec(c state.Campaign) *rec {
	return &rec{pk: campaignPK(c.ID), sk: campaignSK, gsi1pk: "CAMPAIGNS", gsi1sk: c.ID, data: c}
}

func versionSK(n int) string { return fmt.Sprintf("VERSION#%010d", n) }

// CreateCampaign implements state.Campaigns.
func (s *Store) CreateCampaign(ctx context.Context, c state.Campaign) (state.Campaign, error) {
	c, err := state.NewCampaign(c)
	if err != nil {
		return c, err
	}
	it, err := s.create(ctx, *campaignRec(c))
	if err != nil {
		return c, err
	}
	return decode[state.Campaign](it)
}

// GetCampaign implements state.Campaigns.
func (s *Store) GetCampaign(ctx context.Context, id string) (state.Campaign, error) {
	return getRec[state.Campaign](ctx, s, campaignPK(id), campaignSK)
}

// ListCampaigns implements state.Campaigns.
func (s *Store) ListCampaigns(ctx context.Context) ([]state.Campaign, error) {
	items, _, err := s.list(ctx, GSI1, "gsi1pk", "CAMPAIGNS", "gsi1sk", "", state.Page{}, false)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.Campaign](items)
}

// modifyCampaign stores fn's change of campaign id, with the records fn wants created.
func (s *Store) modifyCampaign(ctx context.Context, id string, fn func(state.Campaign) (state.Campaign, []rec, error)) (state.Campaign, error) {
	it, err := s.modify(ctx, campaignPK(id), campaignSK, func(cur item) (change, error) {
		if cur == nil {
			return change{}, fmt.Errorf("%w: campaign %s", state.ErrNotFound, id)
		}
		c, err := decode[state.Campaign](cur)
		if err != nil {
			return change{}, err
		}
		c, creates, err := fn(c)
		return change{head: campaignRec(c), creates: creates}, err
	})
	if err != nil {
		return state.Campaign{}, err
	}
	return decode[state.Campaign](it)
}

// UpdateCampaign implements state.Campaigns.
func (s *Store) UpdateCampaign(ctx context.Context, next state.Campaign) (state.Campaign, error) {
	return s.modifyCampaign(ctx, next.ID, func(cur state.Campaign) (state.Campaign, []rec, error) {
		c, err := state.EditCampaign(cur, next)
		return c, nil, err
	})
}

// SetCampaignStatus implements state.Campaigns.
func (s *Store) SetCampaignStatus(ctx context.Context, id string, from, to state.CampaignStatus, at time.Time) (state.Campaign, error) {
	return s.modifyCampaign(ctx, id, func(cur state.Campaign) (state.Campaign, []rec, error) {
		c, err := state.MoveCampaign(cur, from, to, at)
		return c, nil, err
	})
}

// PublishVersion implements state.Campaigns.
func (s *Store) PublishVersion(ctx context.Context, v state.Version, from, to state.CampaignStatus) (state.Campaign, error) {
	c, err := s.modifyCampaign(ctx, v.CampaignID, func(cur state.Campaign) (state.Campaign, []rec, error) {
		c, v, err := state.PublishCampaign(cur, v, from, to)
		return c, []rec{{pk: campaignPK(v.CampaignID), sk: versionSK(v.Number), data: v}}, err
	})
	if errors.Is(err, state.ErrExists) {
		err = fmt.Errorf("%w: campaign %s version %d exists", state.ErrConflict, v.CampaignID, v.Number)
	}
	return c, err
}

// GetVersion implements state.Campaigns.
func (s *Store) GetVersion(ctx context.Context, campaignID string, n int) (state.Version, error) {
	return getRec[state.Version](ctx, s, campaignPK(campaignID), versionSK(n))
}

// ListVersions implements state.Campaigns.
func (s *Store) ListVersions(ctx context.Context, campaignID string) ([]state.Version, error) {
	items, _, err := s.list(ctx, "", "pk", campaignPK(campaignID), "sk", "VERSION#", state.Page{}, true)
	if err != nil {
		return nil, err
	}
	return decodeAll[state.Version](items)
}

// DeleteCampaign implements state.Campaigns.
func (s *Store) DeleteCampaign(ctx context.Context, id string) error {
	_, err := s.modify(ctx, campaignPK(id), campaignSK, func(cur item) (change, error) {
		if cur == nil {
			return change{}, fmt.Errorf("%w: campaign %s", state.ErrNotFound, id)
		}
		c, err := decode[state.Campaign](cur)
		if err == nil && c.Status != state.CampaignDraft {
			err = fmt.Errorf("%w: campaign %s is %s; only drafts are deleted", state.ErrConflict, id, c.Status)
		}
		return change{del: true}, err
	})
	return err
}
