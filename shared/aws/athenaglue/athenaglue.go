// Package athenaglue is the AWS side of the Athena engine: run datasets
// registered as Glue tables (athenastep.Host), and Athena's start, poll
// and result calls for hosts that run a query themselves (Step Functions'
// .sync integration does it for the compiled states).
package athenaglue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/failure"
)

// Glue is the part of the Glue API used here.
type Glue interface {
	CreateTable(ctx context.Context, in *glue.CreateTableInput, opts ...func(*glue.Options)) (*glue.CreateTableOutput, error)
	UpdateTable(ctx context.Context, in *glue.UpdateTableInput, opts ...func(*glue.Options)) (*glue.UpdateTableOutput, error)
}

// Athena is the part of the Athena API used here.
type Athena interface {
	StartQueryExecution(ctx context.Context, in *athena.StartQueryExecutionInput, opts ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error)
	GetQueryExecution(ctx context.Context, in *athena.GetQueryExecutionInput, opts ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error)
}

// Adapter registers datasets of the run store (an S3 bucket and prefix,
// Blob) in Glue and runs queries on Athena.
type Adapter struct {
	Glue   Glue
	Athena Athena
	Blob   blob.Store
	Bucket string
	Prefix string // the run store's key prefix in Bucket ("" or ending with /)
	// Poll is the wait between GetQueryExecution calls (default 1 s).
	Poll time.Duration
}

var _ athenastep.Host = (*Adapter)(nil)

// Location is the S3 URI of a run-store key prefix.
func (a *Adapter) Location(key string) string { return "s3://" + a.Bucket + "/" + a.Prefix + key + "/" }

// symlinkDir is where, under the run store, a table's file list lives.
func symlinkDir(t athenastep.GlueTable) string { return blob.Join(string(t.Ref), "-athena", t.Name) }

// RegisterTable makes the dataset readable as database.name: a Glue table
// over a symlink manifest that lists the dataset's Parquet files (a run
// snapshot holds a manifest.json beside them, and a source may be one
// file, where a Glue location is a folder). Created, or updated if there.
func (a *Adapter) RegisterTable(ctx context.Context, t athenastep.GlueTable) error {
	var list strings.Builder
	for _, k := range t.Manifest.FileKeys(t.Ref) {
		list.WriteString("s3://" + a.Bucket + "/" + a.Prefix + k + "\n")
	}
	dir := symlinkDir(t)
	if err := a.Blob.Put(ctx, blob.Join(dir, "symlink.txt"), strings.NewReader(list.String())); err != nil {
		return fmt.Errorf("table %s: file list: %w", t.Name, err)
	}
	cols := make([]gluetypes.Column, len(t.Columns))
	for i, c := range t.Columns {
		typ, err := glueType(c)
		if err != nil {
			return err
		}
		cols[i] = gluetypes.Column{Name: aws.String(strings.ToLower(c.Name)), Type: aws.String(typ)}
	}
	in := &gluetypes.TableInput{Name: aws.String(t.Name), TableType: aws.String("EXTERNAL_TABLE"),
		Parameters: map[string]string{"classification": "parquet", "stepwise.ref": string(t.Ref)},
		StorageDescriptor: &gluetypes.StorageDescriptor{Columns: cols, Location: aws.String(a.Location(dir)),
			InputFormat:  aws.String("org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"),
			OutputFormat: aws.String("org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"),
			SerdeInfo:    &gluetypes.SerDeInfo{SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe")}}}
	_, err := a.Glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(t.Database), TableInput: in})
	var exists *gluetypes.AlreadyExistsException
	if errors.As(err, &exists) {
		_, err = a.Glue.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String(t.Database), TableInput: in})
	}
	if err != nil {
		return fmt.Errorf("glue table %s.%s: %w", t.Database, t.Name, err)
	}
	return nil
}

// glueType is a column's Hive type in Glue.
func glueType(c campaign.Column) (string, error) {
	switch c.Type {
	case campaign.TypeString, campaign.TypeJSON:
		return "string", nil
	case campaign.TypeInteger:
		return "bigint", nil
	case campaign.TypeNumber:
		return "double", nil
	case campaign.TypeDecimal:
		return fmt.Sprintf("decimal(18,%d)", c.Scale), nil
	case campaign.TypeBoolean:
		return "boolean", nil
	case campaign.TypeDate:
		return "date", nil
	case campaign.TypeTimestamp:
		return "timestamp", nil
	}
	return "", fmt.Errorf("column %q: no Glue type for %q", c.Name, c.Type)
}

// Query is one statement to run.
type Query struct {
	SQL, Workgroup, Database, OutputLocation string
}

// Result is a finished query.
type Result struct {
	ID             string
	OutputLocation string // Athena's own result file (the UNLOAD's rows are where it says)
	ScannedBytes   int64
}

// QueryFailed is a query Athena ran and failed (or that was cancelled),
// with Athena's reason.
type QueryFailed struct{ ID, State, Reason string }

func (e *QueryFailed) Error() string {
	return fmt.Sprintf("athena query %s %s: %s", e.ID, strings.ToLower(e.State), e.Reason)
}

// Run starts a query and polls it to its end.
func (a *Adapter) Run(ctx context.Context, q Query) (*Result, error) {
	start, err := a.Athena.StartQueryExecution(ctx, &athena.StartQueryExecutionInput{QueryString: aws.String(q.SQL),
		WorkGroup: aws.String(q.Workgroup), QueryExecutionContext: &athenatypes.QueryExecutionContext{Database: aws.String(q.Database)},
		ResultConfiguration: &athenatypes.ResultConfiguration{OutputLocation: aws.String(q.OutputLocation)}})
	if err != nil {
		return nil, throttled(fmt.Errorf("athena start: %w", err))
	}
	id := aws.ToString(start.QueryExecutionId)
	poll := a.Poll
	if poll == 0 {
		poll = time.Second
	}
	for {
		out, err := a.Athena.GetQueryExecution(ctx, &athena.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			return nil, throttled(fmt.Errorf("athena query %s: %w", id, err))
		}
		qe := out.QueryExecution
		var state athenatypes.QueryExecutionState
		if qe != nil && qe.Status != nil {
			state = qe.Status.State
		}
		switch state {
		case athenatypes.QueryExecutionStateSucceeded:
			r := &Result{ID: id}
			if qe.ResultConfiguration != nil {
				r.OutputLocation = aws.ToString(qe.ResultConfiguration.OutputLocation)
			}
			if qe.Statistics != nil {
				r.ScannedBytes = aws.ToInt64(qe.Statistics.DataScannedInBytes)
			}
			return r, nil
		case athenatypes.QueryExecutionStateFailed, athenatypes.QueryExecutionStateCancelled:
			return nil, &QueryFailed{ID: id, State: string(state), Reason: aws.ToString(qe.Status.StateChangeReason)}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// throttled marks Athena's throttling and server errors transient.
func throttled(err error) error {
	var tooMany *athenatypes.TooManyRequestsException
	var internal *athenatypes.InternalServerException
	if errors.As(err, &tooMany) || errors.As(err, &internal) {
		return failure.Transient(err)
	}
	return err
}
