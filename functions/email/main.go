// Command email is the Email Lambda: the email activity (channel family),
// sending with SES v2 under the stack's configuration set (whose events
// feed the Feedback function).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/athenafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/aws/sessend"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		ses := &sessend.Sender{Client: sesv2.NewFromConfig(awsCfg), ConfigurationSet: cfg.ConfigurationSet}
		st := lambdafn.NewStack(cfg, awsCfg)
		fn, err := channelfn.Function(context.Background(), st, "Email", "ses", ses, athenafn.Host(st))
		if err != nil {
			log.Fatal(err)
		}
		return fn.Invoke
	})
}
