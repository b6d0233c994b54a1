// Command check-resume is the CheckResume Lambda: it tells a suspended run's
// poll loop whether it was resumed.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		fn := lambdafn.NewStack(cfg, awsCfg).Function("CheckResume", activity.NewRegistry())
		return fn.Invoke
	})
}
