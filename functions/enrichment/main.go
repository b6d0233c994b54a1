// Command enrichment is the Enrichment Lambda: the enrichment activity
// (targeting family).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stepwise-run/stepwise/shared/activities"
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
	fn := lambdarun.NewStack(cfg, awsCfg).Function("Enrichment", activities.Registry(), activities.Checkers())
	lambda.Start(fn.Invoke)
}
