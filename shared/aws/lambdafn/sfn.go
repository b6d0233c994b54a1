package lambdafn

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/stepwise-run/stepwise/shared/activity"
)

// SFN is Executions on AWS Step Functions.
type SFN struct{ Client *sfn.Client }

// StartExecution implements Executions.
func (s SFN) StartExecution(ctx context.Context, stateMachine, name string, input []byte) (string, bool, error) {
	in := string(input)
	out, err := s.Client.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: &stateMachine, Name: &name, Input: &in})
	var exists *types.ExecutionAlreadyExists
	var missing *types.StateMachineDoesNotExist
	var deleting *types.StateMachineDeleting
	var bad *types.InvalidArn
	switch {
	case err == nil:
		return *out.ExecutionArn, false, nil
	case errors.As(err, &exists):
		return ExecutionARN(stateMachine, name), true, nil
	case errors.As(err, &missing), errors.As(err, &deleting), errors.As(err, &bad):
		return "", false, &activity.InvalidInput{Msg: "start execution: " + err.Error()}
	}
	return "", false, &activity.Retryable{Msg: "start execution: " + err.Error()}
}

// ExecutionARN is the ARN of the execution name of a state machine.
func ExecutionARN(stateMachine, name string) string {
	return strings.Replace(stateMachine, ":stateMachine:", ":execution:", 1) + ":" + name
}
