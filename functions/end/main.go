// Command end is the End Lambda: the end activity (flow family).
// Its trigger service starts the campaign the End activity signals.
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		st := lambdafn.NewStack(cfg, awsCfg)
		reg := activity.NewRegistry()
		flow.Register(reg, &flow.Deps{Trigger: st.NewTrigger(lambdafn.SFN{Client: sfn.NewFromConfig(awsCfg)})})
		return st.Function("End", reg).Invoke
	})
}
