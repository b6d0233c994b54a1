// Command incremental-query is the IncrementalQuery Lambda: the incremental-
// query activity (targeting family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).Function("IncrementalQuery", activities.Registry(), activities.Checkers())
		return fn.Invoke
	})
}
