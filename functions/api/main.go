// Command api is the Api Lambda: the marketers' HTTP API (shared/api) behind
// API Gateway, publishing campaigns to Step Functions and EventBridge
// Scheduler (shared/aws/publish). The gateway authorizes callers (IAM or
// JWT), so the handlers trust it.
package main

import (
	"context"
	"log"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/api/preview"
	"github.com/stepwise-run/stepwise/shared/aws/feedbackq"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/publish"
	"github.com/stepwise-run/stepwise/shared/aws/secrets"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		if err := cfg.ReadUnsubscribeSecret(context.Background(), secrets.Reader(awsCfg)); err != nil {
			log.Fatal(err)
		}
		st := lambdafn.NewStack(cfg, awsCfg)
		pub := &publish.Publisher{SFN: sfn.NewFromConfig(awsCfg), Scheduler: scheduler.NewFromConfig(awsCfg),
			RoleArn: cfg.StateMachineRole, SchedulerRoleArn: cfg.SchedulerRole, Prefix: cfg.NamePrefix, Group: cfg.ScheduleGroup,
			FunctionArn: func(name string) string { return cfg.FunctionArnPrefix + name }}
		if cfg.StateMachineLogLevel != "" {
			pub.Logging = &publish.Logging{LogGroupArn: cfg.StateMachineLogGroup, Level: cfg.StateMachineLogLevel, ExecutionData: cfg.StateMachineLogData}
			if err := pub.Logging.Validate(); err != nil {
				log.Fatalf("STATE_MACHINE_LOG_LEVEL, STATE_MACHINE_LOG_GROUP_ARN: %v", err)
			}
		}
		var fb api.FeedbackRecorder
		if cfg.FeedbackQueue != "" {
			fb = &feedbackq.Queue{SQS: sqs.NewFromConfig(awsCfg), URL: cfg.FeedbackQueue}
		}
		schemas := &dataset.SchemaProbe{Buckets: st.Buckets, WorkDir: cfg.WorkDir}
		h := api.New(api.Options{Store: st.State, Sources: lambdafn.BlobSources{Blob: st.Blob}, Feedback: fb, Schemas: schemas,
			Bundles:  &compile.Publisher{Blob: st.Blob},
			Executor: pub, Deployer: pub, Previewer: &preview.Previewer{Options: dataset.Options{Store: st.Blob, WorkDir: cfg.WorkDir}},
			Uploads:   &publish.Uploads{Presign: s3.NewPresignClient(st.S3), Bucket: cfg.Bucket, Prefix: cfg.Prefix + "uploads/"},
			Authorize: api.TrustGateway, UnsubscribeSecret: []byte(cfg.UnsubscribeSecret), Logger: slog.Default()})
		return lambdafn.HTTP(h)
	})
}
