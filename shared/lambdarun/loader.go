package lambdarun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// ParseLoader loads bundles without compiling them: it parses the campaign
// and the catalog and decodes the configs of the activity types in Registry
// only. Run-level and flow functions use it so that they link neither the
// other activity families nor DuckDB; the bundle was validated in full when
// it was published, and the activity functions re-validate it with
// compile.Loader. It reads no table source: these functions use no table
// columns, and a schema probe would link DuckDB.
type ParseLoader struct {
	Blob     compile.BlobStore
	Registry *activity.Registry // may be empty

	cache compile.CompiledCache
}

// Load implements activity.Loader.
func (l *ParseLoader) Load(ctx context.Context, campaignID, hash string) (*activity.Compiled, error) {
	if c, ok := l.cache.Get(campaignID, hash); ok {
		return c, nil
	}
	rc, err := l.Blob.Get(ctx, compile.BundleKey(campaignID, hash))
	if errors.Is(err, blob.ErrNotFound) {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("no bundle %s of %s", hash, campaignID)}
	} else if err != nil {
		return nil, &activity.Retryable{Msg: fmt.Sprintf("load bundle %s of %s: %v", hash, campaignID, err)}
	}
	defer rc.Close()
	var b compile.Bundle
	if err := json.NewDecoder(rc).Decode(&b); err != nil {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("bundle %s of %s is corrupt: %v", hash, campaignID, err)}
	}
	camp, diags := campaign.ParseCampaign(filepath.Join(b.CatalogDir, b.CampaignFile), b.Campaign)
	cat, cd := campaign.ParseCatalog(filepath.Join(b.CatalogDir, b.CatalogFile), b.Catalog)
	diags = append(diags, cd...)
	if !diags.HasErrors() && l.Registry != nil {
		d := campaign.NewDecoder(camp.Src, &diags)
		for i := range camp.Activities {
			a := &camp.Activities[i]
			if spec, ok := l.Registry.Lookup(a.Type); ok {
				cfg := spec.NewConfig()
				d.DecodeSkipping(a.Node, a.Path(), cfg, campaign.CommonKeys)
				a.Config = cfg
			}
		}
	}
	if diags.HasErrors() {
		return nil, &activity.InvalidInput{Msg: fmt.Sprintf("bundle %s of %s does not parse: %v", hash, campaignID, diags)}
	}
	c := &activity.Compiled{Campaign: camp, Catalog: cat, Files: b.Files, Hash: b.Hash}
	l.cache.Put(campaignID, hash, c)
	return c, nil
}

var _ activity.Loader = (*ParseLoader)(nil)
