// Command end is the End Lambda: the end activity (flow family).
// Its trigger service starts the campaign the End activity signals.
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
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
	reg := activity.NewRegistry()
	flow.Register(reg)
	fn := st.LiteFunction("End", reg)
	fn.Services()[activity.ServiceTrigger] = st.NewTrigger(lambdarun.SFN{Client: sfn.NewFromConfig(awsCfg)})
	lambda.Start(fn.Invoke)
}
