// Package docs holds the committed documents that the binaries serve.
package docs

import _ "embed"

// CampaignSchema is schema/campaign.json, the JSON Schema of campaign files
// that `make schema` generates from the Go types (shared/schema); the console's
// editor completes from it.
//
//go:embed schema/campaign.json
var CampaignSchema []byte
