// Command email is the Email Lambda: the email activity (channel family),
// sending with SES v2 under the stack's configuration set (whose events
// feed the Feedback function).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/aws/sessend"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/send"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).Function("Email", activities.Registry(), activities.Checkers())
		ses := &sessend.Sender{Client: sesv2.NewFromConfig(awsCfg), ConfigurationSet: cfg.ConfigurationSet}
		fn.Services()[activity.ServiceSender] = send.Limit(ses, "ses", cfg.SendRate)
		fn.Services()[channel.ServiceLinks] = channel.SignedLinks{BaseURL: cfg.PublicURL, Secret: []byte(cfg.UnsubscribeSecret)}
		return fn.Invoke
	})
}
