// Command sms is the SMS Lambda: the sms activity (channel family), sending
// with AWS End User Messaging SMS (pinpoint-sms-voice-v2).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/aws/smssend"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
	"github.com/stepwise-run/stepwise/shared/send"
)

func main() {
	cfg, err := lambdarun.FromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fn := lambdarun.NewStack(cfg, awsCfg).Function("SMS", activities.Registry(), activities.Checkers())
	sms := &smssend.SMS{Client: pinpointsmsvoicev2.NewFromConfig(awsCfg), OriginationIdentity: cfg.SMSOrigination}
	fn.Services()[activity.ServiceSender] = send.Limit(sms, "sms-voice", cfg.SendRate)
	fn.Services()[channel.ServiceLinks] = channel.SignedLinks{BaseURL: cfg.PublicURL, Secret: []byte(cfg.UnsubscribeSecret)}
	lambda.Start(fn.Invoke)
}
