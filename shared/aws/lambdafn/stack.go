package lambdafn

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
	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/runner"
)

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

// Buckets opens a bucket at its root, for s3:// catalog sources and files.
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

// Function returns the Lambda serving the function name: a run-level
// function (reg may be empty) or an activity type of reg, whose tasks are
// bound to their dependencies. Handlers load the runtime plan a request
// names, checked against its digest.
func (s *Stack) Function(name string, reg *activity.Registry) *Function {
	env := &activity.Env{WorkDir: s.Config.WorkDir}
	return &Function{Name: name, Runner: &runner.Runner{Registry: reg, Env: env, Store: s.State, Plans: &runner.Plans{Blob: s.Blob, Registry: reg}},
		scratch: NewScratch(s.Config.WorkDir)}
}

// Invoke is the Lambda handler. The error is classified (failure.Classify):
// its Go type name becomes the errorType Step Functions matches in Retry and
// Catch.
// Each invocation runs against an Env of its own, whose WorkDir is a
// scratch folder removed when it ends (with its DuckDB engine, closed).
func (f *Function) Invoke(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	var out json.RawMessage
	err := f.scratch.Do(func(dir string) error {
		env := f.Runner.Env.Scope(dir)
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
