// Command update-data is the UpdateData Lambda: the update-data
// activity (data family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/lambdarun/datafn"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		st := lambdarun.NewStack(cfg, awsCfg)
		fn := datafn.Function(st, "UpdateData")
		return fn.Invoke
	})
}
