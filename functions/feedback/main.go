// Command feedback is the Feedback Lambda: it reads the SES configuration
// set's events in batches (SNS topic → SQS queue), suppresses hard-bounced,
// complaining and unsubscribed addresses, and appends the events to the
// message_feedback table (shared/feedback).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		st := lambdafn.NewStack(cfg, awsCfg)
		h := &handler{state: st.State, store: st.Blob, buckets: st.Buckets, scratch: lambdafn.NewScratch(cfg.WorkDir)}
		return h.Handle
	})
}
