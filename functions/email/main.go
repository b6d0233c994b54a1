// Command email is the Email Lambda: the email activity (channel family),
// sending with SES v2 under the stack's configuration set (whose events
// feed the Feedback function).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/aws/sessend"
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
	fn := lambdarun.NewStack(cfg, awsCfg).Function("Email", activities.Registry(), activities.Checkers())
	ses := &sessend.Sender{Client: sesv2.NewFromConfig(awsCfg), ConfigurationSet: cfg.ConfigurationSet}
	fn.Services()[activity.ServiceSender] = send.Limit(ses, "ses", cfg.SendRate)
	fn.Services()[channel.ServiceLinks] = channel.SignedLinks{BaseURL: cfg.PublicURL, Secret: []byte(cfg.UnsubscribeSecret)}
	lambda.Start(fn.Invoke)
}
