// Package activities assembles the registry of every activity type and the
// sub-language checkers (conditions, Liquid) the compiler uses.
package builtin

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Registry returns a registry holding every activity type, for compiling:
// its tasks have no dependencies (see Bind for running them).
func Registry() *activity.Registry { return Bind(NewFamilies(Host{})) }

// CompileFiles compiles a campaign file with every activity type and checker,
// reading the columns of local table sources through Schemas().
func CompileFiles(campaignFile, catalogFile string) (*compile.Program, campaign.Diagnostics) {
	return compile.CompileFiles(context.Background(), campaignFile, catalogFile, Registry(), Checkers(), Schemas())
}

// CompileFilesEngine is CompileFiles with the catalog's engine overridden.
func CompileFilesEngine(campaignFile, catalogFile, engine string) (*compile.Program, campaign.Diagnostics) {
	return compile.CompileFilesEngine(context.Background(), campaignFile, catalogFile, engine, Registry(), Checkers(), Schemas())
}

var schemas = &dataset.SchemaProbe{}

// Schemas returns the process's schema probe for local table sources: the
// validator and the local executor share it, so each file version's footer
// is read once per process. (Lambdas, which read S3 sources, make their own
// with a bucket opener: lambdafn.Stack.)
func Schemas() *dataset.SchemaProbe { return schemas }
