// Command trigger is the Trigger Lambda: the target of EventBridge Scheduler
// schedules (and of signals), it starts a run of a published campaign with
// Step Functions StartExecution, once per schedule slot or idempotency key.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

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
	t := lambdarun.NewStack(cfg, awsCfg).NewTrigger(lambdarun.SFN{Client: sfn.NewFromConfig(awsCfg)})
	lambda.Start(t.Handle)
}
