// Command suspend is the Suspend Lambda: it marks a run suspended under
// onError: suspend.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		fn := lambdafn.NewStack(cfg, awsCfg).Function("Suspend", activity.NewRegistry())
		return fn.Invoke
	})
}
