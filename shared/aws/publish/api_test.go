package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/stepwise-run/stepwise/shared/api"
	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/aws/publish"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
)

// The API on the AWS adapters, all against moto_server: publish records the version
// and the schedule in DynamoDB, stop removes the schedule.
func TestAPIOnMoto(t *testing.T) {
	ctx := context.Background()
	url := motoServer(t)
	sf, sc, s3c := clients(url)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(url) })
	st := dynamostate.New(db, "stepwise-state")
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stepwise-data")}); err != nil {
		t.Fatal(err)
	}
	blobs := s3blob.New(s3c, "stepwise-data", "")
	p := newPublisher(sf, sc)
	h := api.New(api.Options{Store: st, Sources: api.DirSources{Dir: "../../api/testdata"}, Deployer: p, Executor: p,
		Bundles: &compile.Publisher{Blob: blobs},
		Uploads: &publish.Uploads{Presign: s3.NewPresignClient(s3c), Bucket: "stepwise-data"}, Authorize: api.TrustGateway, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(h)
	defer srv.Close()
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			data, _ := json.Marshal(body)
			rd = bytes.NewReader(data)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if res.StatusCode != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, want, raw)
		}
		var m map[string]any
		json.Unmarshal(raw, &m)
		return m
	}
	src, _ := os.ReadFile("../../api/testdata/flow.yaml")
	call("POST", "/v1/campaigns", map[string]any{"source": string(src)}, 201)
	pub := call("POST", "/v1/campaigns/flow-only/publish", nil, 200)
	sched := pub["schedule"].(map[string]any)
	if pub["status"] != "scheduled" || sched["ref"] == "" {
		t.Fatalf("publish: %v", pub)
	}
	// Recorded in DynamoDB: the version points at the state machine version.
	v, err := st.GetVersion(ctx, "flow-only", 1)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sf.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(v.ASLRef)})
	if err != nil || aws.ToString(out.Name) != "stepwise-flow-only" {
		t.Fatalf("version %s: %v", v.ASLRef, err)
	}
	c, _ := st.GetCampaign(ctx, "flow-only")
	if c.Schedule == nil || c.Schedule.Ref != sched["ref"] {
		t.Fatalf("campaign schedule: %+v", c.Schedule)
	}
	s, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-flow-only")})
	if err != nil || aws.ToString(s.ScheduleExpression) != "rate(1 day)" || aws.ToString(s.ScheduleExpressionTimezone) != "Europe/Paris" {
		t.Fatalf("schedule: %v %v", s, err)
	}
	// The bundle is where the task handlers load it.
	keys, err := blob.Keys(ctx, blobs, "campaigns/flow-only/bundles/")
	if err != nil || len(keys) != 1 {
		t.Fatalf("bundles: %v %v", keys, err)
	}
	up := call("POST", "/v1/uploads", map[string]any{"name": "leads.csv"}, 201)
	if up["method"] != "PUT" {
		t.Fatalf("upload: %v", up)
	}
	stop := call("POST", "/v1/campaigns/flow-only/stop", nil, 200)
	if stop["status"] != "stopped" {
		t.Fatalf("stop: %v", stop)
	}
	if _, err := sc.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String("stepwise-flow-only")}); err == nil {
		t.Fatal("stop left the schedule")
	}
	call("POST", "/v1/campaigns/flow-only/close", nil, 409)
}
