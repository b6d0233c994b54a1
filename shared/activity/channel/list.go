package channel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// RunBucket is where Step Functions finds the run store's keys in S3 (a
// distributed Map's ItemReader and ResultWriter): Prefix+key in Bucket.
// AWS: the stack's bucket and prefix; locally the stand-in's bucket.
type RunBucket struct {
	Bucket, Prefix string
}

// ListAboveSlices is, under engine auto, the slice count above which a
// plan lists its slices in the run store rather than returning them: the
// slices and the inline Map's parts both stay in the execution's state
// (~110 + ~90 bytes a slice), and Step Functions caps it at 256 KiB. At the
// default slice size, 500 slices are 25M recipients. Under engine athena a
// plan lists every slice it hands to a Map.
const ListAboveSlices = 500

// SliceList is the Extra "sliceList" of a plan that listed its slices:
// where the distributed Map reads them and writes its results.
type SliceList struct {
	Bucket  string `json:"bucket"`
	Key     string `json:"key"`     // a JSON array of activity.Slice
	Results string `json:"results"` // the ResultWriter's prefix
	Slices  int    `json:"slices"`
	Rows    int64  `json:"rows"` // the rows of the slices (progress reports)
}

// ExtraSliceList is the Result.Extra key of a listed plan.
const ExtraSliceList = "sliceList"

func sliceListKey(run, act string) string { return "runs/" + run + "/" + act + "/_slices.json" }
func sentKey(run, act string) string      { return "runs/" + run + "/" + act + "/_sent" }

// shouldList reports whether a plan of n slices for the Map lists them.
func shouldList(req *activity.Request, cat *campaign.Catalog, n int) bool {
	if !req.List || n == 0 || cat == nil {
		return false
	}
	switch cat.Engine {
	case campaign.EngineAthena:
		return true
	case campaign.EngineAuto:
		return n > ListAboveSlices
	}
	return false
}

// listSlices writes res's slices as a JSON array at sliceListKey (the same
// bytes for the same plan: a retried plan writes them again) and replaces
// them in res by their location (Extra "sliceList").
func listSlices(ctx context.Context, store blob.Store, rb RunBucket, req *activity.Request, res *activity.Result) error {
	if rb.Bucket == "" {
		return fmt.Errorf("plan: %d slices to list, but no run bucket is configured for the distributed Map", len(res.Slices))
	}
	b, err := json.Marshal(res.Slices)
	if err != nil {
		return err
	}
	key := sliceListKey(req.Run.ID, req.Activity)
	if err := store.Put(ctx, key, bytes.NewReader(b)); err != nil {
		return fmt.Errorf("plan: list the slices: %w", err)
	}
	var rows int64
	for _, sl := range res.Slices {
		rows += sl.Count
	}
	res.Extra[ExtraSliceList] = SliceList{Bucket: rb.Bucket, Key: rb.Prefix + key, Results: rb.Prefix + sentKey(req.Run.ID, req.Activity),
		Slices: len(res.Slices), Rows: rows}
	res.Slices = nil
	return nil
}
