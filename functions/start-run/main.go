// Command start-run is the StartRun Lambda: it validates a run's parameters,
// records the run and computes its facts.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		fn := lambdafn.NewStack(cfg, awsCfg).Function("StartRun", activity.NewRegistry())
		return fn.Invoke
	})
}
