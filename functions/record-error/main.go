// Command record-error is the RecordError Lambda: it records a failed activity
// under onError: ignore.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		fn := lambdafn.NewStack(cfg, awsCfg).Function("RecordError", activity.NewRegistry())
		return fn.Invoke
	})
}
