package dynamostate_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	miniserver "github.com/truora/minidyn/server"

	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/state/statetest"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// TestContractMinidyn runs the contract on minidyn, in process: no Java needed.
// minidyn reports no table status and has no TTL, so the table is made from Schema.
func TestContractMinidyn(t *testing.T) {
	srv := httptest.NewServer(miniserver.NewServer())
	t.Cleanup(srv.Close)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.DisableValidateResponseChecksum = true
	})
	statetest.Run(t, func(t *testing.T) state.Store {
		table := testenv.TableName(t)
		if _, err := db.CreateTable(context.Background(), dynamostate.Schema(table)); err != nil {
			t.Fatal(err)
		}
		return dynamostate.New(db, table)
	})
}
