// Command push is the Push Lambda: the push activity (channel family),
// publishing to SNS mobile push endpoints (device tokens are registered on
// the platform application).
package main

import (
	"context"
	"log"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"

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
	fn := lambdarun.NewStack(cfg, awsCfg).Function("Push", activities.Registry(), activities.Checkers())
	push := &smssend.SNS{Client: sns.NewFromConfig(awsCfg), PlatformApplicationArn: cfg.PushApplication}
	fn.Services()[activity.ServiceSender] = send.Limit(push, "sns", cfg.SendRate)
	fn.Services()[channel.ServiceLinks] = channel.SignedLinks{BaseURL: cfg.PublicURL, Secret: []byte(cfg.UnsubscribeSecret)}
	lambda.Start(fn.Invoke)
}
