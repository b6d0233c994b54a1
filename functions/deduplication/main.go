// Command deduplication is the Deduplication Lambda: the deduplication
// activity (targeting family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/lambdarun/datafn"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		st := lambdarun.NewStack(cfg, awsCfg)
		fn := datafn.Function(st, "Deduplication")
		return fn.Invoke
	})
}
