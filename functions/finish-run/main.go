// Command finish-run is the FinishRun Lambda: it records the activities'
// results and the run's success.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/gluesweep"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		fn := lambdafn.NewStack(cfg, awsCfg).Function("FinishRun", activity.NewRegistry())
		return gluesweep.Bind(cfg, awsCfg, fn.Invoke)
	})
}
