// Package data holds the data-management activity types: load-file and update-data.
package data

import (
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/datatask"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/fileroot"
)

// Deps are what the data-management types need from their host.
type Deps struct {
	Data datatask.Deps
	// Roots confine load-file (besides the campaign folder): a home's
	// uploads, --file-root folders, s3:// prefixes. Nil: none.
	Roots *fileroot.Roots
	// Athena runs update-data when the catalog's engine is athena (nil:
	// such activities fail with a clear error).
	Athena Athena
}

// Register adds the data-management types to r, their tasks bound to d.
func Register(r *activity.Registry, d *Deps) {
	r.Register(loadFile(d), updateData(d))
}

// FormatOf guesses a file format from its extension.
func FormatOf(path string) string {
	p := strings.ToLower(path)
	for _, ext := range []string{"csv", "tsv", "jsonl", "parquet"} {
		if strings.HasSuffix(p, "."+ext) || strings.HasSuffix(p, "."+ext+".gz") {
			return ext
		}
	}
	if strings.HasSuffix(p, ".ndjson") || strings.HasSuffix(p, ".json") {
		return "jsonl"
	}
	if strings.HasSuffix(p, ".txt") {
		return "csv"
	}
	return "csv"
}

func paramNames(c *campaign.Campaign) []string {
	var out []string
	for k := range c.Parameters {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

func sortStrings(s []string) { sort.Strings(s) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
