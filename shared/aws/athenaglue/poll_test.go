package athenaglue_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	athenatypes "github.com/aws/aws-sdk-go-v2/service/athena/types"

	"github.com/stepwise-run/stepwise/shared/aws/athenaglue"
	"github.com/stepwise-run/stepwise/shared/failure"
)

// athenaStates answers GetQueryExecution with the states in turn.
type athenaStates struct {
	startErr error
	states   []athenatypes.QueryExecutionState
	polls    int
}

func (f *athenaStates) StartQueryExecution(context.Context, *athena.StartQueryExecutionInput, ...func(*athena.Options)) (*athena.StartQueryExecutionOutput, error) {
	if f.startErr != nil {
		return nil, f.startErr
	}
	return &athena.StartQueryExecutionOutput{QueryExecutionId: aws.String("q1")}, nil
}

func (f *athenaStates) GetQueryExecution(context.Context, *athena.GetQueryExecutionInput, ...func(*athena.Options)) (*athena.GetQueryExecutionOutput, error) {
	s := f.states[f.polls]
	f.polls++
	return &athena.GetQueryExecutionOutput{QueryExecution: &athenatypes.QueryExecution{
		Status: &athenatypes.QueryExecutionStatus{State: s, StateChangeReason: aws.String("COLUMN_NOT_FOUND: line 1:8")}}}, nil
}

func TestRunPollsToTheEnd(t *testing.T) {
	f := &athenaStates{states: []athenatypes.QueryExecutionState{"QUEUED", "RUNNING", "FAILED"}}
	a := &athenaglue.Adapter{Athena: f, Poll: 1}
	_, err := a.Run(context.Background(), athenaglue.Query{SQL: "SELECT x"})
	var qf *athenaglue.QueryFailed
	if !errors.As(err, &qf) || qf.Reason != "COLUMN_NOT_FOUND: line 1:8" || f.polls != 3 {
		t.Fatalf("%v after %d polls, want the failure with Athena's reason after 3", err, f.polls)
	}
	f = &athenaStates{startErr: &athenatypes.TooManyRequestsException{Message: aws.String("slow down")}}
	a.Athena = f
	if _, err := a.Run(context.Background(), athenaglue.Query{SQL: "SELECT 1"}); !errors.Is(err, failure.ErrTransient) {
		t.Errorf("throttled start: %v, want transient", err)
	}
}
