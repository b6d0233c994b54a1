package template_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/aws/publish"
)

// TestStateMachineLogging: the API is told to publish state machines
// logging to StateMachineLogs at the level and execution-data setting of
// the parameters (a configuration publish.Logging accepts), the example
// state machines log the same way, and the API and the state machines'
// role may set up the log delivery.
func TestStateMachineLogging(t *testing.T) {
	for _, p := range []map[string]string{nil, {"StateMachineLogLevel": "ALL", "StateMachineLogExecutionData": "true"}} {
		s := deployed(t, p)
		level, data := s.params["StateMachineLogLevel"], s.params["StateMachineLogExecutionData"]
		group := s.getAtt(t, "StateMachineLogs", "Arn").(string)
		env := map[string]string{}
		for k, v := range obj(obj(s.value(t, obj(s.resources["ApiFunction"]["Properties"])["Environment"]))["Variables"]) {
			env[k] = fmt.Sprint(v)
		}
		cfg, err := lambdafn.FromEnv(func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("Api environment: %v", err)
		}
		l := publish.Logging{LogGroupArn: cfg.StateMachineLogGroup, Level: cfg.StateMachineLogLevel, ExecutionData: cfg.StateMachineLogData}
		if err := l.Validate(); err != nil {
			t.Errorf("Api logging configuration: %v", err)
		}
		wantData, _ := strconv.ParseBool(data)
		if l.LogGroupArn != group || l.Level != level || l.ExecutionData != wantData {
			t.Errorf("%v: Api publishes with logging %+v, want %s level %s data %v", p, l, group, level, wantData)
		}
		for _, role := range []string{s.functionRole(t, "ApiFunction"), "StateMachineRole"} {
			stmts, _ := s.roleStatements(t, role)
			for _, a := range logDeliveryActions {
				if !allowed(stmts, request{Action: a, Resource: "*"}) {
					t.Errorf("%s may not %s", role, a)
				}
			}
		}
	}
}
