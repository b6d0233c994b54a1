package s3blob_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/blob/blobtest"
)

// fake starts an in-process gofakes3 and returns a client for it and a
// counter of UploadPart requests.
func fake(t *testing.T) (*s3.Client, *atomic.Int64) {
	parts := new(atomic.Int64)
	faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true))
	h := faker.Server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
			parts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(ts.URL),
		UsePathStyle: true,
		Credentials:  aws.AnonymousCredentials{},
	})
	return client, parts
}

func TestContract(t *testing.T) {
	client, _ := fake(t)
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) blob.Store {
		// A fresh prefix per subtest exercises the prefix mapping too.
		return s3blob.New(client, "bucket", fmt.Sprintf("/suite/%d/", n.Add(1)))
	})
}

func TestLargePutIsMultipart(t *testing.T) {
	ctx := context.Background()
	client, parts := fake(t)
	s := s3blob.New(client, "bucket", "").WithPartSize(5 << 20)
	big := strings.Repeat("0123456789abcdef", (12<<20)/16) // 12 MiB: parts of 5, 5, 2 MiB
	if err := s.Put(ctx, "big", strings.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if got := parts.Load(); got != 3 {
		t.Fatalf("UploadPart requests = %d, want 3", got)
	}
	b, err := blob.ReadAll(ctx, s, "big")
	if err != nil || string(b) != big {
		t.Fatalf("read back %d bytes, %v", len(b), err)
	}
	if got := s.URI("big"); got != "s3://bucket/big" {
		t.Fatalf("URI = %q", got)
	}
}

// GetRange reads part of an object (Parquet footers); Stat and List report
// the object's ETag, which changes with its bytes.
func TestGetRangeAndETag(t *testing.T) {
	ctx := context.Background()
	client, _ := fake(t)
	s := s3blob.New(client, "bucket", "p/")
	if err := s.Put(ctx, "k", strings.NewReader("0123456789")); err != nil {
		t.Fatal(err)
	}
	rc, err := s.GetRange(ctx, "k", 6, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "6789" {
		t.Fatalf("range 6+4: %q", b)
	}
	if _, err := s.GetRange(ctx, "absent", 0, 1); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("absent: %v", err)
	}
	info, err := s.Stat(ctx, "k")
	if err != nil || info.ETag == "" {
		t.Fatalf("stat: %+v, %v", info, err)
	}
	for listed, err := range s.List(ctx, "k") {
		if err != nil || listed.ETag != info.ETag {
			t.Fatalf("list: %+v, %v; stat ETag %s", listed, err, info.ETag)
		}
	}
	if err := s.Put(ctx, "k", strings.NewReader("9876543210")); err != nil {
		t.Fatal(err)
	}
	if again, err := s.Stat(ctx, "k"); err != nil || again.ETag == info.ETag || again.Size != info.Size {
		t.Fatalf("rewritten: %+v, %v (was %+v)", again, err, info)
	}
}
