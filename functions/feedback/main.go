// Command feedback is the Feedback Lambda: it reads the SES configuration
// set's events in batches (SNS topic → SQS queue), suppresses hard-bounced,
// complaining and unsubscribed addresses, and appends the events to the
// message_feedback table (shared/feedback).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

func main() {
	cfg, err := lambdarun.FromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	st := lambdarun.NewStack(cfg, awsCfg)
	h := &handler{state: st.State, store: st.Blob, buckets: st.Buckets, workDir: cfg.WorkDir}
	lambda.Start(h.Handle)
}
