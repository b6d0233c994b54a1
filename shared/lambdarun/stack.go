package lambdarun

import (
	"context"
	"encoding/json"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/fileroot"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// ServiceBuckets is the Env service that opens other S3 buckets, for
// s3:// catalog sources and files: a func(bucket string) (blob.Store, error).
const ServiceBuckets = "buckets"

// Stack holds the SDK clients and the adapters every function shares.
type Stack struct {
	Config   Config
	AWS      aws.Config
	S3       *s3.Client
	DynamoDB *dynamodb.Client
	Blob     *s3blob.Store
	State    *dynamostate.Store
}

// NewStack builds the S3 and DynamoDB clients from awsCfg (which carries the
// AWS_ENDPOINT_URL_* overrides) and the adapters on them. It does no I/O.
func NewStack(cfg Config, awsCfg aws.Config) *Stack {
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = cfg.S3PathStyle })
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		// Emulators (DynamoDB Local) fail the CRC32 response check; AWS does not.
		if o.BaseEndpoint != nil {
			o.DisableValidateResponseChecksum = true
		}
	})
	return &Stack{Config: cfg, AWS: awsCfg, S3: s3c, DynamoDB: ddb,
		Blob: s3blob.New(s3c, cfg.Bucket, cfg.Prefix), State: dynamostate.New(ddb, cfg.Table)}
}

// Buckets opens a bucket at its root (the Env's ServiceBuckets).
func (s *Stack) Buckets(bucket string) (blob.Store, error) {
	if bucket == s.Config.Bucket && s.Config.Prefix == "" {
		return s.Blob, nil
	}
	return s3blob.New(s.S3, bucket, ""), nil
}

// Function is one Lambda: a runner serving a single function name.
type Function struct {
	Name   string
	Runner *runner.Runner

	scratch *Scratch
}

// Function returns the Lambda of an activity type that needs the whole
// program: the loader re-validates bundles with reg and chk, which must be
// those the campaigns were compiled with (activities.Registry and
// activities.Checkers), reading the columns of table sources that declare
// none through schemas (a dataset.SchemaProbe on s.Buckets; lambdarun stays
// free of DuckDB, so the main makes it).
func (s *Stack) Function(name string, reg *activity.Registry, chk compile.Checkers, schemas campaign.SchemaReader) *Function {
	return s.function(name, reg, &compile.Loader{Blob: s.Blob, Registry: reg, Checkers: chk, Schemas: schemas})
}

// LiteFunction returns the Lambda of a run-level function (reg empty) or of
// a flow activity (reg holding the flow types): bundles are parsed, not
// compiled (ParseLoader), so the binary stays free of the other families and
// of cgo.
func (s *Stack) LiteFunction(name string, reg *activity.Registry) *Function {
	return s.function(name, reg, &ParseLoader{Blob: s.Blob, Registry: reg})
}

func (s *Stack) function(name string, reg *activity.Registry, loader activity.Loader) *Function {
	env := &activity.Env{WorkDir: s.Config.WorkDir, Services: map[string]any{
		activity.ServiceBlob:   s.Blob,
		activity.ServiceState:  s.State,
		activity.ServiceLoader: loader,
		ServiceBuckets:         s.Buckets,
		fileroot.Service:       s.Config.FileRoots,
	}}
	return &Function{Name: name, Runner: &runner.Runner{Registry: reg, Env: env, Store: s.State, Loader: loader},
		scratch: NewScratch(s.Config.WorkDir)}
}

// Services are the Env services, for mains that add one (a sender, a trigger).
func (f *Function) Services() map[string]any { return f.Runner.Env.Services }

// Invoke is the Lambda handler. The error is classified (failure.Classify):
// its Go type name becomes the errorType Step Functions matches in Retry and
// Catch.
// Each invocation runs against an Env of its own, whose WorkDir is a
// scratch folder removed when it ends (with its DuckDB engine, closed).
func (f *Function) Invoke(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	err := f.scratch.Do(func(dir string) error {
		base := f.Runner.Env
		env := &activity.Env{Services: base.Services, WorkDir: dir, Clock: base.Clock}
		defer env.Close()
		r := *f.Runner
		r.Env = env
		var err error
		out, err = r.Handle(ctx, f.Name, in)
		return err
	})
	if err != nil {
		err = failure.Classify(err) // a scratch folder failure too
		log.Printf("%s failed: %s: %v", f.Name, failure.Name(err), err)
		return nil, err
	}
	return out, nil
}
