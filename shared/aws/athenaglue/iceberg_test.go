package athenaglue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/aws/athenaglue"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// A managed table's Iceberg copy is created in Glue once (an open table
// format table at its warehouse location), then found there.
func TestRegisterIcebergOnMoto(t *testing.T) {
	ctx := context.Background()
	url := testenv.Moto(t)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(url)}
	gc := glue.NewFromConfig(cfg)
	if _, err := gc.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("stepwise")}}); err != nil {
		t.Fatal(err)
	}
	a := &athenaglue.Adapter{Glue: gc, Bucket: "runs", Prefix: "stack/"}
	ice := data.IcebergTable{Database: "stepwise", Name: "sw_managed_customers", Table: "customers", Key: []string{"customerId"},
		Location: a.Location("warehouse/customers/iceberg"),
		Columns:  []campaign.Column{{Name: "customerId", Type: "string"}, {Name: "points", Type: "integer"}, {Name: "signupAt", Type: "timestamp"}}}
	for i, want := range []bool{true, false} {
		created, err := a.RegisterIceberg(ctx, ice)
		if err != nil || created != want {
			t.Fatalf("register %d: created %v, %v; want %v", i, created, err, want)
		}
	}
	got, err := gc.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("stepwise"), Name: aws.String("sw_managed_customers")})
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range got.Table.StorageDescriptor.Columns {
		cols = append(cols, aws.ToString(c.Name)+" "+aws.ToString(c.Type))
	}
	if strings.Join(cols, ", ") != "customerid string, points bigint, signupat timestamp" ||
		aws.ToString(got.Table.StorageDescriptor.Location) != "s3://runs/stack/warehouse/customers/iceberg/" ||
		!strings.EqualFold(got.Table.Parameters["table_type"], "ICEBERG") {
		t.Errorf("table: %v at %s, parameters %v", cols, aws.ToString(got.Table.StorageDescriptor.Location), got.Table.Parameters)
	}
	ice.Database = "nowhere"
	if _, err := a.RegisterIceberg(ctx, ice); err == nil || !strings.Contains(err.Error(), "nowhere.sw_managed_customers") {
		t.Errorf("a missing database: %v", err)
	}
}
