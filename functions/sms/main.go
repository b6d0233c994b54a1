// Command sms is the SMS Lambda: the sms activity (channel family), sending
// with AWS End User Messaging SMS (pinpoint-sms-voice-v2).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/athenafn"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn/channelfn"
	"github.com/stepwise-run/stepwise/shared/aws/smssend"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		sms := &smssend.SMS{Client: pinpointsmsvoicev2.NewFromConfig(awsCfg), OriginationIdentity: cfg.SMSOrigination}
		st := lambdafn.NewStack(cfg, awsCfg)
		fn, err := channelfn.Function(context.Background(), st, "SMS", "sms-voice", sms, athenafn.Host(st))
		if err != nil {
			log.Fatal(err)
		}
		return fn.Invoke
	})
}
