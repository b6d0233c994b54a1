// Command email is the Email Lambda: the email activity (channel family),
// sending with SES v2 under the stack's configuration set (whose events
// feed the Feedback function).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/stepwise-run/stepwise/shared/aws/sessend"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/lambdarun/channelfn"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		ses := &sessend.Sender{Client: sesv2.NewFromConfig(awsCfg), ConfigurationSet: cfg.ConfigurationSet}
		return channelfn.Function(lambdarun.NewStack(cfg, awsCfg), "Email", "ses", ses).Invoke
	})
}
