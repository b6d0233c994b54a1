// Package examples embeds the example campaigns, catalog, templates and files
// so that `stepwise demo` works from any folder.
package examples

import "embed"

// FS holds the examples.
//
//go:embed *.yaml templates files
var FS embed.FS
