// Command sms is the SMS Lambda: the sms activity (channel family), sending
// with AWS End User Messaging SMS (pinpoint-sms-voice-v2).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/aws/smssend"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/send"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		fn := lambdarun.NewStack(cfg, awsCfg).Function("SMS", activities.Registry(), activities.Checkers())
		sms := &smssend.SMS{Client: pinpointsmsvoicev2.NewFromConfig(awsCfg), OriginationIdentity: cfg.SMSOrigination}
		fn.Services()[activity.ServiceSender] = send.Limit(sms, "sms-voice", cfg.SendRate)
		fn.Services()[channel.ServiceLinks] = channel.SignedLinks{BaseURL: cfg.PublicURL, Secret: []byte(cfg.UnsubscribeSecret)}
		return fn.Invoke
	})
}
