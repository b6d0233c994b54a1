// Command record-error is the RecordError Lambda: it records a failed activity
// under onError: ignore.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).Function("RecordError", activity.NewRegistry())
		return fn.Invoke
	})
}
