// Command alert is the Alert Lambda: the alert activity (flow family). Alerts
// go to the run log and, with ALERT_TOPIC_ARN set, to an SNS topic.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		var d flow.Deps
		if cfg.AlertTopic != "" {
			d.Alerter = lambdafn.SNSAlerter{Client: sns.NewFromConfig(awsCfg), Topic: cfg.AlertTopic}
		}
		reg := activity.NewRegistry()
		flow.Register(reg, &d)
		return lambdafn.NewStack(cfg, awsCfg).Function("Alert", reg).Invoke
	})
}
