package folderblob_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/blob/blobtest"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

func newStore(t *testing.T) *folderblob.Store {
	s, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return newStore(t) })
}

// A Put in progress is invisible: no object, no listing entry, until it ends.
func TestPutInProgressIsInvisible(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	pr, pw := io.Pipe()
	done := make(chan error)
	go func() { done <- s.PutIfAbsent(ctx, "ds/manifest.json", pr) }()
	pw.Write([]byte(`{"rows":`))
	if _, err := s.Stat(ctx, "ds/manifest.json"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat during Put: %v, want ErrNotFound", err)
	}
	if keys, _ := blob.Keys(ctx, s, ""); len(keys) != 0 {
		t.Fatalf("List during Put = %v", keys)
	}
	pw.Write([]byte(`3}`))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p, err := s.FilePath("ds/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != `{"rows":3}` {
		t.Fatalf("file = %q", b)
	}
	if _, err := s.FilePath("ds/other"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("FilePath(absent): %v", err)
	}
}

func TestDeletePrunesFoldersAndReservedKeys(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.Put(ctx, "a/b/c", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a/b/c"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "a")); !os.IsNotExist(err) {
		t.Fatalf("empty folders left behind: %v", err)
	}
	if err := s.Put(ctx, ".tmp/x", strings.NewReader("x")); err == nil {
		t.Fatal("Put under the reserved .tmp folder succeeded")
	}
}

// MoveFile takes a local file into the store: readable under its key, gone from its path.
func TestMoveFile(t *testing.T) {
	s := newStore(t)
	src := filepath.Join(t.TempDir(), "part.parquet")
	if err := os.WriteFile(src, []byte("PAR1 data"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.MoveFile(ctx, "runs/r/a/out/part.parquet", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("source still there: %v", err)
	}
	r, err := s.Get(ctx, "runs/r/a/out/part.parquet")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "PAR1 data" {
		t.Fatalf("content %q", b)
	}
	if err := s.MoveFile(ctx, "../escape", src); err == nil {
		t.Fatal("a bad key was accepted")
	}
	if err := s.MoveFile(ctx, "runs/r/missing", filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// Errors name the key, never the store's folder.
func TestErrorsNameNoFolder(t *testing.T) {
	s, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Put(ctx, "a", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	err = s.Put(ctx, "a/b", strings.NewReader("y")) // a is an object, not a folder
	if err == nil || strings.Contains(err.Error(), s.Root()) || !strings.Contains(err.Error(), "a/b") {
		t.Errorf("put below an object: %v", err)
	}
	local := filepath.Join(t.TempDir(), "gone.parquet")
	err = s.MoveFile(ctx, "c", local)
	if err == nil || strings.Contains(err.Error(), filepath.Dir(local)) {
		t.Errorf("move a missing file: %v", err)
	}
}

// A staged object is synced but invisible until put; put is PutIfAbsent's
// link, and discard leaves no temporary file.
func TestStage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := folderblob.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	put, discard, err := s.Stage(ctx, strings.NewReader("manifest"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "d/manifest.json"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("visible before put: %v", err)
	}
	if err := put("d/manifest.json"); err != nil {
		t.Fatal(err)
	}
	if err := put("d/manifest.json"); !errors.Is(err, blob.ErrExists) {
		t.Fatalf("second put: %v, want ErrExists", err)
	}
	discard()
	r, err := s.Get(ctx, "d/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	r.Close()
	if string(b) != "manifest" {
		t.Fatalf("content %q", b)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, ".tmp")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}
