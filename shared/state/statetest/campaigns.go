package statetest

import (
	"context"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

func testCampaignCreate(t *testing.T, s state.Store) {
	ctx := context.Background()
	paris := time.FixedZone("CET", 3600)
	c := must(s.CreateCampaign(ctx, state.Campaign{
		ID: "winback", Name: "Win back", Draft: []byte("id: winback\n"), CreatedAt: t0.In(paris),
		Schedule: &state.Schedule{Cron: "0 9 * * 1-5", Timezone: "Europe/Paris", NextAt: at(24 * time.Hour)},
	}))
	equal(t, "status", c.Status, state.CampaignDraft)
	equal(t, "rev", c.Rev, 1)
	sameTime(t, "createdAt", c.CreatedAt, t0)
	sameTime(t, "updatedAt", c.UpdatedAt, t0)
	same(t, "get", must(s.GetCampaign(ctx, "winback")), c)

	_, err := s.CreateCampaign(ctx, state.Campaign{ID: "winback"})
	wantErr(t, err, state.ErrExists)
	_, err = s.CreateCampaign(ctx, state.Campaign{})
	wantErr(t, err, state.ErrInvalid)
	_, err = s.CreateCampaign(ctx, state.Campaign{ID: "x", Status: "bogus"})
	wantErr(t, err, state.ErrInvalid)
	_, err = s.GetCampaign(ctx, "nope")
	wantErr(t, err, state.ErrNotFound)

	a := must(s.CreateCampaign(ctx, state.Campaign{ID: "alpha", CreatedAt: t0}))
	list := must(s.ListCampaigns(ctx))
	same(t, "list", list, []state.Campaign{a, c})
}

func testCampaignUpdate(t *testing.T, s state.Store) {
	ctx := context.Background()
	c := must(s.CreateCampaign(ctx, state.Campaign{ID: "c1", Name: "one", Draft: []byte("v1"), CreatedAt: t0}))

	edit := c
	edit.Name, edit.Draft, edit.UpdatedAt = "One", []byte("v2"), at(time.Minute)
	edit.Status, edit.PublishedVersion = state.CampaignLive, 7 // not changed by updates
	edit.Schedule = &state.Schedule{Every: "6h"}
	u := must(s.UpdateCampaign(ctx, edit))
	equal(t, "rev", u.Rev, 2)
	equal(t, "name", u.Name, "One")
	equal(t, "draft", string(u.Draft), "v2")
	equal(t, "status", u.Status, state.CampaignDraft)
	equal(t, "published", u.PublishedVersion, 0)
	equal(t, "every", u.Schedule.Every, "6h")
	sameTime(t, "createdAt", u.CreatedAt, t0)
	sameTime(t, "updatedAt", u.UpdatedAt, at(time.Minute))
	same(t, "get", must(s.GetCampaign(ctx, "c1")), u)

	_, err := s.UpdateCampaign(ctx, edit) // stale revision
	wantErr(t, err, state.ErrConflict)
	_, err = s.UpdateCampaign(ctx, state.Campaign{ID: "nope", Rev: 1})
	wantErr(t, err, state.ErrNotFound)
}

func testCampaignLifecycle(t *testing.T, s state.Store) {
	ctx := context.Background()
	c := must(s.CreateCampaign(ctx, state.Campaign{ID: "c1", Draft: []byte("draft"), CreatedAt: t0}))

	_, err := s.SetCampaignStatus(ctx, "c1", state.CampaignDraft, state.CampaignLive, at(time.Second))
	wantErr(t, err, state.ErrInvalid) // only publishing leaves draft

	v1 := state.Version{CampaignID: "c1", Number: 1, Document: []byte("doc1"), ASLHash: "sha256:aa", ASLRef: "file:///asl/1.json", CreatedAt: at(time.Minute)}
	p := must(s.PublishVersion(ctx, v1, state.CampaignDraft, state.CampaignLive))
	equal(t, "status", p.Status, state.CampaignLive)
	equal(t, "published", p.PublishedVersion, 1)
	equal(t, "rev", p.Rev, c.Rev+1)
	equal(t, "draft kept", string(p.Draft), "draft")

	_, err = s.PublishVersion(ctx, v1, state.CampaignLive, state.CampaignLive)
	wantErr(t, err, state.ErrConflict) // versions are immutable
	_, err = s.PublishVersion(ctx, state.Version{CampaignID: "c1", Number: 3}, state.CampaignLive, state.CampaignLive)
	wantErr(t, err, state.ErrConflict)
	_, err = s.PublishVersion(ctx, state.Version{CampaignID: "c1", Number: 2}, state.CampaignDraft, state.CampaignLive)
	wantErr(t, err, state.ErrConflict) // not a draft any more
	_, err = s.PublishVersion(ctx, state.Version{CampaignID: "c1", Number: 2}, state.CampaignLive, state.CampaignDraft)
	wantErr(t, err, state.ErrInvalid)
	_, err = s.PublishVersion(ctx, state.Version{CampaignID: "nope", Number: 1}, state.CampaignDraft, state.CampaignLive)
	wantErr(t, err, state.ErrNotFound)

	v2 := state.Version{CampaignID: "c1", Number: 2, Document: []byte("doc2"), CreatedAt: at(2 * time.Minute)}
	p = must(s.PublishVersion(ctx, v2, state.CampaignLive, state.CampaignLive))
	equal(t, "published", p.PublishedVersion, 2)

	g1 := must(s.GetVersion(ctx, "c1", 1))
	equal(t, "doc1", string(g1.Document), "doc1")
	equal(t, "hash", g1.ASLHash, "sha256:aa")
	equal(t, "ref", g1.ASLRef, "file:///asl/1.json")
	sameTime(t, "createdAt", g1.CreatedAt, at(time.Minute))
	g2 := must(s.GetVersion(ctx, "c1", 2))
	same(t, "versions", must(s.ListVersions(ctx, "c1")), []state.Version{g2, g1})
	_, err = s.GetVersion(ctx, "c1", 3)
	wantErr(t, err, state.ErrNotFound)
	equal(t, "no versions", len(must(s.ListVersions(ctx, "c2"))), 0)

	p = must(s.SetCampaignStatus(ctx, "c1", state.CampaignLive, state.CampaignClosed, at(time.Hour)))
	equal(t, "status", p.Status, state.CampaignClosed)
	sameTime(t, "updatedAt", p.UpdatedAt, at(time.Hour))
	_, err = s.SetCampaignStatus(ctx, "c1", state.CampaignLive, state.CampaignStopped, at(time.Hour))
	wantErr(t, err, state.ErrConflict)
	_, err = s.SetCampaignStatus(ctx, "nope", state.CampaignLive, state.CampaignStopped, at(time.Hour))
	wantErr(t, err, state.ErrNotFound)
	must(s.SetCampaignStatus(ctx, "c1", state.CampaignClosed, state.CampaignArchived, at(2*time.Hour)))
	_, err = s.SetCampaignStatus(ctx, "c1", state.CampaignArchived, state.CampaignArchived, at(2*time.Hour))
	wantErr(t, err, state.ErrInvalid)

	wantErr(t, s.DeleteCampaign(ctx, "c1"), state.ErrConflict)
	must(s.CreateCampaign(ctx, state.Campaign{ID: "d1", CreatedAt: t0}))
	ok(t, s.DeleteCampaign(ctx, "d1"))
	_, err = s.GetCampaign(ctx, "d1")
	wantErr(t, err, state.ErrNotFound)
	wantErr(t, s.DeleteCampaign(ctx, "d1"), state.ErrNotFound)
	equal(t, "campaigns", len(must(s.ListCampaigns(ctx))), 1)
}

func testCampaignRace(t *testing.T, s state.Store) {
	ctx := context.Background()
	must(s.CreateCampaign(ctx, state.Campaign{ID: "c1", CreatedAt: t0}))

	errs := race(func(i int) error {
		v := state.Version{CampaignID: "c1", Number: 1, Document: []byte(name("doc", i)), CreatedAt: at(time.Second)}
		_, err := s.PublishVersion(ctx, v, state.CampaignDraft, state.CampaignScheduled)
		return err
	})
	w := oneWins(t, errs, state.ErrConflict)
	equal(t, "winner's document", string(must(s.GetVersion(ctx, "c1", 1)).Document), name("doc", w))

	errs = race(func(i int) error {
		to := []state.CampaignStatus{state.CampaignLive, state.CampaignStopped, state.CampaignCompleted}[i%3]
		_, err := s.SetCampaignStatus(ctx, "c1", state.CampaignScheduled, to, at(time.Minute))
		return err
	})
	oneWins(t, errs, state.ErrConflict)
	c := must(s.GetCampaign(ctx, "c1"))
	equal(t, "rev", c.Rev, 3)
}
