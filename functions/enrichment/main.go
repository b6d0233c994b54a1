// Command enrichment is the Enrichment Lambda: the enrichment activity
// (targeting family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/athenafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/datafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		st := lambdafn.NewStack(cfg, awsCfg)
		fn := datafn.WithAthena(st, "Enrichment", athenafn.Host(st))
		return fn.Invoke
	})
}
