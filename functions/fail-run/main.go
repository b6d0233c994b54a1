// Command fail-run is the FailRun Lambda: it records the run's failure,
// called by the state machine's Catch, or by the EventBridge rule on
// executions that ended where no Catch could handle it (EndedRuns).
package main

import (
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/aws/gluesweep"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func main() {
	lambdafn.Main(func(cfg lambdafn.Config, awsCfg aws.Config) any {
		st := lambdafn.NewStack(cfg, awsCfg)
		fn := st.Function("FailRun", activity.NewRegistry())
		ended := &lambdafn.EndedRuns{Store: st.State, StateMachinePrefix: cfg.StateMachinePrefix, Now: time.Now}
		return gluesweep.Bind(cfg, awsCfg, ended.Or(fn.Invoke))
	})
}
