// Command push is the Push Lambda: the push activity (channel family),
// publishing to SNS mobile push endpoints (device tokens are registered on
// the platform application).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/athenafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/aws/smssend"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		push := &smssend.SNS{Client: sns.NewFromConfig(awsCfg), PlatformApplicationArn: cfg.PushApplication}
		st := lambdafn.NewStack(cfg, awsCfg)
		fn, err := channelfn.Function(context.Background(), st, "Push", "sns", push, athenafn.Host(st))
		if err != nil {
			log.Fatal(err)
		}
		return fn.Invoke
	})
}
