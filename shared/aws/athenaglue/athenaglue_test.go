package athenaglue_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/aws/athenaglue"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// Glue registration and Athena's start/poll calls against moto_server.
func TestAdapterOnMoto(t *testing.T) {
	ctx := context.Background()
	url := testenv.Moto(t)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(url)}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("runs"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}}); err != nil {
		t.Fatal(err)
	}
	gc := glue.NewFromConfig(cfg)
	if _, err := gc.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("stepwise")}}); err != nil {
		t.Fatal(err)
	}
	store := s3blob.New(s3c, "runs", "stack")
	a := &athenaglue.Adapter{Glue: gc, Athena: athena.NewFromConfig(cfg), Blob: store, Bucket: "runs", Prefix: "stack/"}
	if got := a.Location("runs/r1/lapsed/out/athena"); got != "s3://runs/stack/runs/r1/lapsed/out/athena/" {
		t.Errorf("Location = %s", got)
	}
	ref := dataset.Ref("runs/r1/-tables/customers")
	m := &dataset.Manifest{Files: []string{"customers.parquet"}}
	table := targeting.GlueTable{Database: "stepwise", Name: "sw_0011_customers", Ref: ref, Manifest: m,
		Columns: []campaign.Column{{Name: "customerId", Type: "string"}, {Name: "amount", Type: "decimal", Scale: 2}, {Name: "signupAt", Type: "timestamp"}}}
	for i := 0; i < 2; i++ { // created, then updated
		if err := a.RegisterTable(ctx, table); err != nil {
			t.Fatalf("register %d: %v", i, err)
		}
	}
	got, err := gc.GetTable(ctx, &glue.GetTableInput{DatabaseName: aws.String("stepwise"), Name: aws.String("sw_0011_customers")})
	if err != nil {
		t.Fatal(err)
	}
	sd := got.Table.StorageDescriptor
	var cols []string
	for _, c := range sd.Columns {
		cols = append(cols, aws.ToString(c.Name)+" "+aws.ToString(c.Type))
	}
	if strings.Join(cols, ", ") != "customerid string, amount decimal(18,2), signupat timestamp" ||
		aws.ToString(sd.Location) != "s3://runs/stack/runs/r1/-tables/customers/-athena/sw_0011_customers/" ||
		aws.ToString(sd.InputFormat) != "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat" {
		t.Errorf("table: %v at %s, %s", cols, aws.ToString(sd.Location), aws.ToString(sd.InputFormat))
	}
	list, err := blob.ReadAll(ctx, store, "runs/r1/-tables/customers/-athena/sw_0011_customers/symlink.txt")
	if err != nil || string(list) != "s3://runs/stack/runs/r1/-tables/customers/customers.parquet\n" {
		t.Errorf("symlink.txt = %q, %v", list, err)
	}
	res, err := a.Run(ctx, athenaglue.Query{SQL: `SELECT 1`, Workgroup: "primary", Database: "stepwise", OutputLocation: "s3://runs/athena/"})
	if err != nil || res.ID == "" {
		t.Fatalf("run: %+v, %v", res, err)
	}
}
