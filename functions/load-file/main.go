// Command load-file is the LoadFile Lambda: the load-file activity (data
// family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).Function("LoadFile", activities.Registry(), activities.Checkers())
		return fn.Invoke
	})
}
