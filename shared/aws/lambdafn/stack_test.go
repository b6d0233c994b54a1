package lambdafn_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

// TestStackHonoursEndpoints: the clients take AWS_ENDPOINT_URL_* from the
// SDK's configuration, so emulators need no code path of their own.
func TestStackHonoursEndpoints(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9500")
	t.Setenv("AWS_REGION", "us-east-1")
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := lambdafn.NewStack(lambdafn.Config{Table: "t", Bucket: "b", S3PathStyle: true}, awsCfg)
	d := st.DynamoDB.Options()
	if d.BaseEndpoint == nil || *d.BaseEndpoint != "http://127.0.0.1:8000" || !d.DisableValidateResponseChecksum {
		t.Errorf("dynamodb endpoint %v, checksum off %v", d.BaseEndpoint, d.DisableValidateResponseChecksum)
	}
	s := st.S3.Options()
	if s.BaseEndpoint == nil || *s.BaseEndpoint != "http://127.0.0.1:9500" || !s.UsePathStyle {
		t.Errorf("s3 endpoint %v, path style %v", s.BaseEndpoint, s.UsePathStyle)
	}
	if got := st.Blob.URI("k"); got != "s3://b/k" {
		t.Errorf("blob URI %q", got)
	}
}
