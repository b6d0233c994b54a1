// Command push is the Push Lambda: the push activity (channel family),
// publishing to SNS mobile push endpoints (device tokens are registered on
// the platform application).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/aws/smssend"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/send"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).Function("Push", activities.Registry(), activities.Checkers())
		push := &smssend.SNS{Client: sns.NewFromConfig(awsCfg), PlatformApplicationArn: cfg.PushApplication}
		fn.Services()[activity.ServiceSender] = send.Limit(push, "sns", cfg.SendRate)
		fn.Services()[channel.ServiceLinks] = channel.SignedLinks{BaseURL: cfg.PublicURL, Secret: []byte(cfg.UnsubscribeSecret)}
		return fn.Invoke
	})
}
