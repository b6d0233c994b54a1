package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/plan"
)

// BlobReader is the part of the blob store plans are read from.
type BlobReader interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// Plans loads runtime plans from the blob store, checks them against the
// digest the request names, and keeps them (a plan never changes). It
// implements PlanLoader; safe for concurrent use.
type Plans struct {
	Blob     BlobReader
	Registry *activity.Registry // the types whose configs are decoded

	mu    sync.Mutex
	cache map[string]*activity.Compiled
}

// Load implements PlanLoader.
func (p *Plans) Load(ctx context.Context, campaignID, digest string) (*activity.Compiled, error) {
	key := plan.Key(campaignID, digest)
	p.mu.Lock()
	c, ok := p.cache[key]
	p.mu.Unlock()
	if ok {
		return c, nil
	}
	rc, err := p.Blob.Get(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("plan %s of %s is not stored: publish or run the campaign again", digest, campaignID)}
	} else if err != nil {
		return nil, &activity.Retryable{Msg: fmt.Sprintf("load plan %s of %s: %v", digest, campaignID, err)}
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, &activity.Retryable{Msg: fmt.Sprintf("load plan %s of %s: %v", digest, campaignID, err)}
	}
	l, err := plan.Unmarshal(data, digest)
	if err != nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("campaign %s: %v", campaignID, err)}
	}
	c, err = activity.FromPlan(l, p.Registry)
	if err != nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("campaign %s: %v", campaignID, err)}
	}
	p.Remember(campaignID, c)
	return c, nil
}

// Remember keeps a plan compiled in this process (local runs skip the round trip).
func (p *Plans) Remember(campaignID string, c *activity.Compiled) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cache == nil {
		p.cache = map[string]*activity.Compiled{}
	}
	p.cache[plan.Key(campaignID, c.Digest)] = c
}
