package dynamostate_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/state/statetest"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func newStore(t *testing.T, db *dynamodb.Client) *dynamostate.Store {
	t.Helper()
	table := testenv.TableName(t)
	s := dynamostate.New(db, table)
	if err := s.CreateTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	return s
}

func TestContract(t *testing.T) {
	db := testenv.DynamoDBClient(t)
	statetest.Run(t, func(t *testing.T) state.Store { return newStore(t, db) })
}

// TestEndpointFromEnvironment checks that a client built the way the Lambdas build it
// reaches the endpoint named by AWS_ENDPOINT_URL_DYNAMODB, and that CreateTable is
// idempotent.
func TestEndpointFromEnvironment(t *testing.T) {
	ctx := context.Background()
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", testenv.DynamoDB(t))
	t.Setenv("AWS_ACCESS_KEY_ID", "local")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "local")
	t.Setenv("AWS_REGION", "us-east-1")
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.DisableValidateResponseChecksum = true })
	s := newStore(t, db)
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	if _, err := s.CommitTable(ctx, "customers", 0, "v1", t0()); err != nil {
		t.Fatal(err)
	}
}

func t0() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) }
