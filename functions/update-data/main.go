// Command update-data is the UpdateData Lambda: the update-data
// activity (data family).
package main

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activities"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/lambdarun"
)

func main() {
	lambdarun.Main(func(cfg lambdarun.Config, awsCfg aws.Config) any {
		st := lambdarun.NewStack(cfg, awsCfg)
		fn := st.Function("UpdateData", activities.Registry(), activities.Checkers(), &dataset.SchemaProbe{Buckets: st.Buckets, WorkDir: cfg.WorkDir})
		return fn.Invoke
	})
}
