// Package athenafn binds the Athena engine's host (Glue registration of a
// run's tables, athenaglue over the stack's S3 and Glue clients) in the
// functions whose activities lower to Athena: BuildAudience, Deduplication,
// Split, Enrichment, Combine, UpdateData (which also creates Iceberg tables),
// the other Athena-lowered types and the channels (their plan). Only they
// import it, so only they link Glue and need its grants; it links no
// activity family (its types are athenastep's).
package athenafn

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/aws/athenaglue"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

// Host returns the Athena engine's host for the plan and finish steps
// (Glue registration of the run's tables over the run bucket), or nil when
// the stack configures no Glue database (ATHENA_GLUE_DATABASE).
func Host(st *lambdafn.Stack) athenastep.Host {
	db := st.Config.AthenaDatabase
	if db == "" {
		return nil
	}
	return &oneDatabase{Database: db, Adapter: &athenaglue.Adapter{
		Glue: glue.NewFromConfig(st.AWS), Athena: athena.NewFromConfig(st.AWS),
		Blob: st.Blob, Bucket: st.Config.Bucket, Prefix: st.Config.Prefix}}
}

// oneDatabase registers tables in the configured database only: the
// function's role may write no other, and a catalog naming another gets
// this error rather than Glue's AccessDenied.
type oneDatabase struct {
	Database string
	*athenaglue.Adapter
}

func (o *oneDatabase) RegisterTable(ctx context.Context, t athenastep.GlueTable) error {
	if t.Database != o.Database {
		return fmt.Errorf("table %s: the catalog's athena.database %q is not the stack's Glue database %q (ATHENA_GLUE_DATABASE, template parameter AthenaGlueDatabase)", t.Name, t.Database, o.Database)
	}
	return o.Adapter.RegisterTable(ctx, t)
}

func (o *oneDatabase) RegisterIceberg(ctx context.Context, t athenastep.IcebergTable) (bool, error) {
	if t.Database != o.Database {
		return false, fmt.Errorf("table %s: the catalog's athena.database %q is not the stack's Glue database %q (ATHENA_GLUE_DATABASE, template parameter AthenaGlueDatabase)", t.Name, t.Database, o.Database)
	}
	return o.Adapter.RegisterIceberg(ctx, t)
}
