package folderblob_test

import (
	"context"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/blob/blobtest"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// under presents a mounted store with the mount left out of its keys, so that
// the blob contract runs against it unchanged.
type under struct {
	s      *folderblob.Store
	prefix string
}

func (u under) Put(ctx context.Context, k string, r io.Reader) error {
	return u.s.Put(ctx, u.prefix+k, r)
}
func (u under) PutIfAbsent(ctx context.Context, k string, r io.Reader) error {
	return u.s.PutIfAbsent(ctx, u.prefix+k, r)
}
func (u under) Get(ctx context.Context, k string) (io.ReadCloser, error) {
	return u.s.Get(ctx, u.prefix+k)
}
func (u under) Stat(ctx context.Context, k string) (blob.Info, error) {
	fi, err := u.s.Stat(ctx, u.prefix+k)
	fi.Key = strings.TrimPrefix(fi.Key, u.prefix)
	return fi, err
}
func (u under) Delete(ctx context.Context, k string) error { return u.s.Delete(ctx, u.prefix+k) }
func (u under) List(ctx context.Context, p string) iter.Seq2[blob.Info, error] {
	return func(yield func(blob.Info, error) bool) {
		for fi, err := range u.s.List(ctx, u.prefix+p) {
			if err == nil && !strings.HasPrefix(fi.Key, u.prefix) {
				panic("listed outside the mount: " + fi.Key)
			}
			fi.Key = strings.TrimPrefix(fi.Key, u.prefix)
			if !yield(fi, err) {
				return
			}
		}
	}
}

func TestMountedContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := folderblob.Mounted(t.TempDir(), "warehouse")
		if err != nil {
			t.Fatal(err)
		}
		return under{s, "warehouse/"}
	})
}

// A mounted folder holds its keys without the mount: warehouse/customers/x is
// dir/customers/x, and keys elsewhere are refused, not written beside it.
func TestMountedKeysLandInTheFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := folderblob.Mounted(dir, "warehouse")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "warehouse/customers/commits/1.json", strings.NewReader("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "customers", "commits", "1.json")); err != nil {
		t.Fatalf("object not at dir/customers/commits/1.json: %v", err)
	}
	if p, err := s.FilePath("warehouse/customers/commits/1.json"); err != nil || p != filepath.Join(dir, "customers", "commits", "1.json") {
		t.Fatalf("FilePath = %q, %v", p, err)
	}
	err = s.Put(ctx, "runs/r1/x", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "outside warehouse/") {
		t.Fatalf("Put outside the mount: %v, want a refusal naming warehouse/", err)
	}
	for _, p := range []string{"", "ware", "warehouse/", "warehouse/cust"} {
		keys, err := blob.Keys(ctx, s, p)
		if err != nil || len(keys) != 1 || keys[0] != "warehouse/customers/commits/1.json" {
			t.Errorf("Keys(%q) = %v, %v", p, keys, err)
		}
	}
	if keys, _ := blob.Keys(ctx, s, "runs/"); len(keys) != 0 {
		t.Errorf("Keys(runs/) = %v, want none", keys)
	}
}
