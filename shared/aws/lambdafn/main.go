package lambdafn

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Main is the body of every function's main: the typed configuration from
// the environment, the SDK configuration from config.LoadDefaultConfig (so
// AWS_ENDPOINT_URL_* overrides reach every client), then build's handler
// started with the Lambda runtime. A configuration error stops the process
// before the first invocation, where Lambda reports it as an init error.
func Main(build func(cfg Config, awsCfg aws.Config) any) {
	cfg, err := FromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	lambda.Start(build(cfg, awsCfg))
}
