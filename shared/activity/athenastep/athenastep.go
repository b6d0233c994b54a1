// Package athenastep holds what every activity type on the Athena engine
// shares: the host that registers run datasets as Glue tables, and the
// Step Functions states that run a statement on Athena. The targeting and
// data types and the channels' plan use it, so no family imports another.
package athenastep

import (
	"context"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/asl"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/gluename"
)

// Host is what an activity on the Athena engine needs from its host (AWS:
// Glue and the run bucket; locally, a DuckDB stand-in).
type Host interface {
	// Location is the URI Athena writes a run-store key prefix at (AWS:
	// s3://bucket/key/).
	Location(key string) string
	// RegisterTable makes a dataset of the run store readable by Athena as
	// database.name with the given columns (Glue: a table over the
	// dataset's files).
	RegisterTable(ctx context.Context, t GlueTable) error
}

// GlueTable is a dataset of the run store registered for Athena.
type GlueTable struct {
	Database, Name string
	Ref            dataset.Ref
	Manifest       *dataset.Manifest
	Columns        []campaign.Column
}

// IcebergTable is the Iceberg copy of a managed table on Athena (the
// table update-data MERGEs into).
type IcebergTable struct {
	Database, Name string
	Table          string // the catalog table
	Location       string // where its data and metadata live
	Columns        []campaign.Column
	Key            []string
}

// Query is a state running the statement at the result's
// extra.<query> on Athena (athena:startQueryExecution.sync; its id and bytes
// scanned at extra.<result>), retried on Athena's throttling and transient
// errors; any other failure goes to failed (see AddFailed).
func Query(l activity.Lowerer, query, result, comment, failed, next string) *asl.State {
	cfg := l.Catalog().Athena
	res := l.ResultPath()
	return &asl.State{Type: "Task", Comment: comment, Resource: asl.AthenaQuerySync,
		Parameters: map[string]any{
			"QueryString.$":         res + ".extra." + query,
			"WorkGroup":             cfg.Workgroup,
			"QueryExecutionContext": map[string]any{"Database": cfg.Database},
			"ResultConfiguration":   map[string]any{"OutputLocation": cfg.OutputLocation},
		},
		ResultSelector: map[string]any{"id.$": "$.QueryExecution.QueryExecutionId", "scannedBytes.$": "$.QueryExecution.Statistics.DataScannedInBytes"},
		ResultPath:     asl.Path(res + ".extra." + result),
		Retry: []asl.Retrier{{ErrorEquals: append([]string(nil), asl.AthenaRetryable...), IntervalSeconds: 5, MaxAttempts: asl.Int(5),
			BackoffRate: 2, MaxDelaySeconds: 120}},
		Catch: []asl.Catcher{{ErrorEquals: []string{"States.ALL"}, ResultPath: "$.error", Next: failed}},
		Next:  next}
}

// AddFailed adds the states a failed query goes to and returns the
// first's name: a Pass naming the failure AthenaQueryFailed with Athena's
// reason as the cause, then where the activity's own catcher would go (the
// Parallel's catcher inside a level), or a Fail state.
func AddFailed(l activity.Lowerer) string {
	failed := l.Name("query failed")
	named := &asl.State{Type: "Pass", Comment: "name a failed query; Athena's reason is the cause",
		Parameters: map[string]any{"Error": "AthenaQueryFailed", "Cause.$": "$.error.Cause"}, ResultPath: "$.error"}
	if catch := l.Catch(); len(catch) > 0 {
		named.Next = catch[0].Next
		l.Add(failed, named)
	} else {
		named.Next = l.Name("fail")
		l.Add(failed, named)
		l.Add(l.Name("fail"), &asl.State{Type: "Fail", Error: "AthenaQueryFailed", CausePath: "$.error.Cause"})
	}
	return failed
}

// GlueName names a Glue table of a run (gluename.Run): what ends the run
// removes the tables of its prefix.
func GlueName(run, what string) string { return gluename.Run(run, what) }
