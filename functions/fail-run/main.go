// Command fail-run is the FailRun Lambda: it records the run's failure.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).LiteFunction("FailRun", activity.NewRegistry())
		return fn.Invoke
	})
}
