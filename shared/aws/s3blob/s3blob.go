// Package s3blob is the blob.Store adapter for Amazon S3 (aws-sdk-go-v2).
// Objects larger than one part are streamed with a multipart upload, holding
// one part in memory at a time. PutIfAbsent relies on S3 conditional writes
// (If-None-Match: *).
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/stepwise-run/stepwise/shared/aws/awserr"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/failure"
)

// DefaultPartSize is the multipart part size; objects up to this size are
// sent in one PutObject.
const DefaultPartSize = 8 << 20

// minPartSize is S3's lower bound for every part but the last.
const minPartSize = 5 << 20

// Store keeps objects in an S3 bucket under a key prefix.
type Store struct {
	client   *s3.Client
	bucket   string
	prefix   string // "" or ends with "/"
	partSize int
}

var _ blob.Store = (*Store)(nil)

// New returns a store on bucket whose keys live under prefix ("" for the
// bucket root). The client is configured by the caller (region, endpoint).
func New(client *s3.Client, bucket, prefix string) *Store {
	p := strings.Trim(prefix, "/")
	if p != "" {
		p += "/"
	}
	return &Store{client: client, bucket: bucket, prefix: p, partSize: DefaultPartSize}
}

// WithPartSize returns a copy that uploads in parts of n bytes (at least 5 MiB).
func (s *Store) WithPartSize(n int) *Store {
	c := *s
	c.partSize = max(n, minPartSize)
	return &c
}

// URI returns the s3:// URI of key.
func (s *Store) URI(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

func (s *Store) key(key string) (*string, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, err
	}
	return aws.String(s.prefix + key), nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	return s.put(ctx, key, r, false)
}

// PutIfAbsent implements blob.Store.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	return s.put(ctx, key, r, true)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, exclusive bool) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	// Read up to one part; small objects (manifests) stay small in memory.
	var first bytes.Buffer
	if _, err := io.CopyN(&first, r, int64(s.partSize)); err != nil && err != io.EOF {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	buf := first.Bytes()
	n := len(buf)
	var ifNoneMatch *string
	if exclusive {
		ifNoneMatch = aws.String("*")
	}
	if n < s.partSize { // the whole object fits in one request
		return s.retryConflict(ctx, key, func() error {
			_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
				Bucket: &s.bucket, Key: k, Body: bytes.NewReader(buf[:n]),
				ContentLength: aws.Int64(int64(n)), IfNoneMatch: ifNoneMatch,
			})
			return err
		})
	}
	if exclusive {
		// Fail fast rather than upload a large object that cannot win; the
		// conditional CompleteMultipartUpload still decides races.
		if _, err := s.Stat(ctx, key); err == nil {
			return fmt.Errorf("%s: %w", key, blob.ErrExists)
		} else if !errors.Is(err, blob.ErrNotFound) {
			return err
		}
	}
	return s.multipart(ctx, key, k, r, buf, ifNoneMatch)
}

// multipart uploads first (one full part) and then the rest of r, part by
// part, reusing one part-sized buffer.
func (s *Store) multipart(ctx context.Context, key string, k *string, r io.Reader, first []byte, ifNoneMatch *string) (err error) {
	// Parts carry CRC32 checksums, declared up front as the transfer
	// manager does, so that S3 verifies the assembled object.
	up, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: k, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return s.wrap("put", key, err)
	}
	defer func() {
		if err != nil {
			// Best effort, also when ctx is cancelled.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: k, UploadId: up.UploadId})
		}
	}()
	var parts []types.CompletedPart
	buf, n := first, len(first)
	for num := int32(1); n > 0; num++ {
		out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.bucket, Key: k, UploadId: up.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			return s.wrap("put", key, err)
		}
		parts = append(parts, types.CompletedPart{
			ETag: out.ETag, PartNumber: aws.Int32(num), ChecksumCRC32: out.ChecksumCRC32,
		})
		if n < s.partSize {
			break
		}
		if cap(buf) < s.partSize {
			buf = make([]byte, s.partSize)
		}
		buf = buf[:s.partSize]
		n, err = io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("s3blob: put %s: %w", key, err)
		}
	}
	return s.retryConflict(ctx, key, func() error {
		_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &s.bucket, Key: k, UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
			IfNoneMatch:     ifNoneMatch,
		})
		return err
	})
}

// retryConflict runs a write, retrying on 409 ConditionalRequestConflict (S3
// answers it while a competing conditional write is in flight; the retry then
// gets 412 if the other one won). Errors are mapped to the blob sentinels.
func (s *Store) retryConflict(ctx context.Context, key string, write func() error) error {
	delay := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := write()
		if err == nil {
			return nil
		}
		if status(err) != http.StatusConflict || attempt == 5 {
			return s.wrap("put", key, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
			delay *= 2
		}
	}
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: k})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return body{out.Body}, nil
}

// body marks a failure reading an object (a dropped connection, a short
// read) as transient: a retry reads it again.
type body struct{ io.ReadCloser }

func (b body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = failure.Transient(err)
	}
	return n, err
}

// GetRange opens n bytes of the object from offset off (a ranged GET), for
// readers of file metadata such as Parquet footers (dataset.RangeReader).
func (s *Store) GetRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	k, err := s.key(key)
	if err != nil {
		return nil, err
	}
	if off < 0 || n <= 0 {
		return nil, fmt.Errorf("s3blob: get %s: bad range %d+%d", key, off, n)
	}
	rng := fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: k, Range: &rng})
	if err != nil {
		return nil, s.wrap("get", key, err)
	}
	return body{out.Body}, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	k, err := s.key(key)
	if err != nil {
		return blob.Info{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: k})
	if err != nil {
		return blob.Info{}, s.wrap("stat", key, err)
	}
	return blob.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified).UTC(), ETag: aws.ToString(out.ETag)}, nil
}

// List implements blob.Store, following ListObjectsV2 pagination.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
			Bucket: &s.bucket, Prefix: aws.String(s.prefix + prefix),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				yield(blob.Info{}, s.wrap("list", prefix, err))
				return
			}
			for _, o := range page.Contents {
				info := blob.Info{
					Key:     strings.TrimPrefix(aws.ToString(o.Key), s.prefix),
					Size:    aws.ToInt64(o.Size),
					ModTime: aws.ToTime(o.LastModified).UTC(),
					ETag:    aws.ToString(o.ETag),
				}
				if !yield(info, nil) {
					return
				}
			}
		}
	}
}

// Delete implements blob.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	k, err := s.key(key)
	if err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: k}); err != nil {
		if errors.Is(s.wrap("", key, err), blob.ErrNotFound) {
			return nil
		}
		return s.wrap("delete", key, err)
	}
	return nil
}

// wrap maps S3 errors to the blob sentinels and marks those the SDK would
// retry (throttling, 5xx) transient.
func (s *Store) wrap(op, key string, err error) error {
	var apiErr smithy.APIError
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	switch st := status(err); {
	case code == "NoSuchKey" || code == "NotFound" || (st == http.StatusNotFound && code != "NoSuchBucket"):
		return fmt.Errorf("%s: %w", key, blob.ErrNotFound)
	case code == "PreconditionFailed" || st == http.StatusPreconditionFailed:
		return fmt.Errorf("%s: %w", key, blob.ErrExists)
	}
	return fmt.Errorf("s3blob: %s s3://%s/%s%s: %w", op, s.bucket, s.prefix, key, awserr.Mark(err))
}

func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
