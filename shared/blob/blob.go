// Package blob is the object-store port: named, immutable-by-convention byte
// objects addressed by slash-separated keys. Datasets (Parquet files and their
// manifests) live in a Store: S3 on AWS (aws/s3blob), a folder locally
// (local/folderblob). The contract every adapter meets is in blob/blobtest.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/failure"
)

// Sentinel errors; adapters wrap them, so test with errors.Is. Each is of a
// failure kind, which names it when it ends a function.
var (
	// ErrNotFound: no object has this key.
	ErrNotFound = failure.Sentinel("blob: not found", failure.ErrInvalid)
	// ErrExists: PutIfAbsent found an object already stored under the key.
	ErrExists = failure.Sentinel("blob: already exists", failure.ErrConflict)
)

// Info describes a stored object.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	ETag    string // the object's entity tag where the store has one (S3), else ""
}

// Store holds objects by key. Keys are relative slash-separated paths (see
// CheckKey); a key must not also be the folder of other keys ("a" and "a/b"),
// which a file system cannot hold. A reader never sees a partly written
// object: an object appears whole when Put or PutIfAbsent returns, or not at
// all.
type Store interface {
	// Put stores the bytes of r under key, replacing any previous object.
	// r is streamed: adapters hold at most a bounded buffer in memory.
	Put(ctx context.Context, key string, r io.Reader) error
	// PutIfAbsent is Put, except that it fails with ErrExists when an
	// object is already stored under key. Of concurrent callers on one key,
	// exactly one succeeds.
	PutIfAbsent(ctx context.Context, key string, r io.Reader) error
	// Get opens the object for reading; ErrNotFound when absent.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object; ErrNotFound when absent.
	Stat(ctx context.Context, key string) (Info, error)
	// List yields the objects whose key starts with prefix (a plain string
	// prefix, as in S3), in ascending key order. Iteration stops at the
	// first error, which is yielded with a zero Info.
	List(ctx context.Context, prefix string) iter.Seq2[Info, error]
	// Delete removes the object; deleting an absent key is not an error.
	Delete(ctx context.Context, key string) error
}

// FileStore is implemented by stores whose objects are plain local files, so
// that readers (DuckDB) can use them in place instead of copying them.
type FileStore interface {
	Store
	// FilePath returns the local path of the object under key, or
	// ErrNotFound. The file must be treated as read-only.
	FilePath(key string) (string, error)
}

// CheckKey reports whether key is a valid object key: non-empty, relative,
// slash-separated, without empty, "." or ".." segments or backslashes.
func CheckKey(key string) error {
	if key == "" {
		return errors.New("blob: empty key")
	}
	if strings.ContainsAny(key, "\\\x00") {
		return fmt.Errorf("blob: invalid key %q: backslash or NUL", key)
	}
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "", ".", "..":
			return fmt.Errorf("blob: invalid key %q: empty, . or .. segment", key)
		}
	}
	return nil
}

// Join joins key segments with slashes, dropping empty ones.
func Join(elem ...string) string {
	parts := make([]string, 0, len(elem))
	for _, e := range elem {
		if e = strings.Trim(e, "/"); e != "" {
			parts = append(parts, e)
		}
	}
	return strings.Join(parts, "/")
}

// ReadAll reads a whole (small) object.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, error) {
	rc, err := s.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Keys collects the keys under prefix; for small listings.
func Keys(ctx context.Context, s Store, prefix string) ([]string, error) {
	var keys []string
	for info, err := range s.List(ctx, prefix) {
		if err != nil {
			return nil, err
		}
		keys = append(keys, info.Key)
	}
	return keys, nil
}

// URI is a parsed location: s3://bucket/key, or a local path (Scheme "file").
type URI struct {
	Scheme string // "s3" or "file"
	Bucket string // s3 only
	Path   string // object key or key prefix (s3, no leading slash), or file path
}

// ParseURI parses an s3:// URI or a local path (optionally file://).
// Other schemes are errors.
func ParseURI(s string) (URI, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		if s == "" {
			return URI{}, errors.New("blob: empty location")
		}
		return URI{Scheme: "file", Path: s}, nil
	}
	switch strings.ToLower(scheme) {
	case "s3":
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return URI{}, fmt.Errorf("blob: %q has no bucket", s)
		}
		return URI{Scheme: "s3", Bucket: bucket, Path: key}, nil
	case "file":
		if rest == "" {
			return URI{}, fmt.Errorf("blob: %q has no path", s)
		}
		return URI{Scheme: "file", Path: rest}, nil
	}
	return URI{}, fmt.Errorf("blob: unsupported location %q; use a local path or s3://bucket/key", s)
}

// String formats the URI (a local path is returned as is).
func (u URI) String() string {
	if u.Scheme == "s3" {
		return "s3://" + u.Bucket + "/" + u.Path
	}
	return u.Path
}

// IsS3 reports whether s is an s3:// URI.
func IsS3(s string) bool { return len(s) > 5 && strings.EqualFold(s[:5], "s3://") }
