package athenafn

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

func stack(t *testing.T, vars map[string]string, endpoint string) *lambdafn.Stack {
	t.Helper()
	cfg, err := lambdafn.FromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	return lambdafn.NewStack(cfg, aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(endpoint),
		Credentials: aws.AnonymousCredentials{}})
}

// TestAthenaUnconfigured: without ATHENA_GLUE_DATABASE the targeting
// functions have no Athena host (an activity on Athena fails: no Athena is configured).
func TestAthenaUnconfigured(t *testing.T) {
	if a := Host(stack(t, map[string]string{"TABLE_NAME": "t", "BUCKET": "b"}, "http://127.0.0.1:1")); a != nil {
		t.Errorf("Athena bound without a database: %T", a)
	}
	_, err := lambdafn.FromEnv(func(k string) string {
		return map[string]string{"TABLE_NAME": "t", "BUCKET": "b", "ATHENA_GLUE_DATABASE": "Stepwise-DB"}[k]
	})
	if err == nil || !strings.Contains(err.Error(), "ATHENA_GLUE_DATABASE") {
		t.Errorf("a bad database name: %v", err)
	}
}

// TestAthenaBound: with ATHENA_GLUE_DATABASE the plan step registers a
// run's table through the stack's AWS configuration: its file list in the
// run bucket under the prefix, the Glue table in that database, and a
// catalog naming another database is refused before any call.
func TestAthenaBound(t *testing.T) {
	var mu sync.Mutex
	var calls []string
	var glueIn map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if target := r.Header.Get("X-Amz-Target"); target != "" {
			calls = append(calls, target)
			json.Unmarshal(body, &glueIn)
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			io.WriteString(w, "{}")
			return
		}
		calls = append(calls, r.Method+" "+r.URL.Path)
	}))
	defer srv.Close()
	st := stack(t, map[string]string{"TABLE_NAME": "t", "BUCKET": "runs", "PREFIX": "p/", "S3_PATH_STYLE": "true",
		"ATHENA_GLUE_DATABASE": "stepwise_db"}, srv.URL)
	a := Host(st)
	if a == nil {
		t.Fatal("no Athena host with ATHENA_GLUE_DATABASE set")
	}
	if got := a.Location("runs/r1/a/out"); got != "s3://runs/p/runs/r1/a/out/" {
		t.Errorf("Location %q", got)
	}
	tbl := targeting.GlueTable{Database: "stepwise_db", Name: "sw_1_customers", Ref: dataset.Ref("runs/r1/snap/customers"),
		Manifest: &dataset.Manifest{Files: []string{"part-0.parquet"}}, Columns: []campaign.Column{{Name: "id", Type: campaign.TypeString}}}
	if err := a.RegisterTable(context.Background(), tbl); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(calls, " | ")
	db, _ := glueIn["DatabaseName"].(string)
	mu.Unlock()
	if !strings.Contains(got, "PUT /runs/p/runs/r1/snap/customers/-athena/sw_1_customers/symlink.txt") || !strings.Contains(got, "AWSGlue.CreateTable") || db != "stepwise_db" {
		t.Errorf("calls %s, database %q", got, db)
	}
	calls = nil
	tbl.Database = "other"
	err := a.RegisterTable(context.Background(), tbl)
	if err == nil || !strings.Contains(err.Error(), "ATHENA_GLUE_DATABASE") || !strings.Contains(err.Error(), `"other"`) || len(calls) != 0 {
		t.Errorf("another database: %v, calls %v", err, calls)
	}
}
