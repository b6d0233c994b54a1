// Command suspend is the Suspend Lambda: it marks a run suspended under
// onError: suspend.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stepwise-run/stepwise/shared/activity"
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
	fn := lambdarun.NewStack(cfg, awsCfg).LiteFunction("Suspend", activity.NewRegistry())
	lambda.Start(fn.Invoke)
}
