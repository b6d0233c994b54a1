package blob_test

import (
	"testing"

	"github.com/stepwise-run/stepwise/shared/blob"
)

func TestCheckKey(t *testing.T) {
	for _, k := range []string{"a", "runs/r1/a/out/manifest.json", "a.b/c-d_e", "é/ü"} {
		if err := blob.CheckKey(k); err != nil {
			t.Errorf("CheckKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "/a", "a/", "a//b", ".", "..", "a/../b", "a/./b", `a\b`, "a\x00b"} {
		if blob.CheckKey(k) == nil {
			t.Errorf("CheckKey(%q) accepted", k)
		}
	}
}

func TestJoin(t *testing.T) {
	if got := blob.Join("runs/", "", "/r1", "a/out/"); got != "runs/r1/a/out" {
		t.Fatalf("Join = %q", got)
	}
}

func TestParseURI(t *testing.T) {
	for in, want := range map[string]blob.URI{
		"s3://bucket/in/leads.csv": {Scheme: "s3", Bucket: "bucket", Path: "in/leads.csv"},
		"S3://bucket":              {Scheme: "s3", Bucket: "bucket"},
		"data/customers.parquet":   {Scheme: "file", Path: "data/customers.parquet"},
		"file:///tmp/x.csv":        {Scheme: "file", Path: "/tmp/x.csv"},
	} {
		got, err := blob.ParseURI(in)
		if err != nil || got != want {
			t.Errorf("ParseURI(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "s3:///key", "http://host/x", "file://"} {
		if _, err := blob.ParseURI(in); err == nil {
			t.Errorf("ParseURI(%q) accepted", in)
		}
	}
	u, _ := blob.ParseURI("s3://b/k/x")
	if u.String() != "s3://b/k/x" || !blob.IsS3("s3://b/k") || blob.IsS3("/s3/x") {
		t.Fatal("String/IsS3")
	}
}
