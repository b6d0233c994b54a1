// Command incremental-query is the IncrementalQuery Lambda: the incremental-
// query activity (targeting family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/lambdarun/datafn"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		st := lambdarun.NewStack(cfg, awsCfg)
		fn := datafn.Function(st, "IncrementalQuery")
		return fn.Invoke
	})
}
