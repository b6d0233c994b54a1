// Command trigger is the Trigger Lambda: the target of EventBridge Scheduler
// schedules (and of signals), it starts a run of a published campaign with
// Step Functions StartExecution, once per schedule slot or idempotency key.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		t := lambdafn.NewStack(cfg, awsCfg).NewTrigger(lambdafn.SFN{Client: sfn.NewFromConfig(awsCfg)})
		return t.Handle
	})
}
