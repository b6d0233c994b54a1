package boltstate

import (
	"context"
	"errors"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/state"
)

func name(err error) string { return failure.Name(failure.Classify(err)) }

// A file that a process of an older version holds open for good (here bbolt
// itself) fails to open after the timeout: the holder may let go, so the
// failure is transient.
func TestOpenLockTimeoutIsRetryable(t *testing.T) {
	home := t.TempDir()
	db, err := bolt.Open(filepath.Join(home, FileName), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = open(home, 50*time.Millisecond)
	if err == nil {
		t.Fatal("a second handle opened a locked home")
	}
	if !errors.Is(err, berrors.ErrTimeout) {
		t.Errorf("want bbolt's lock timeout, got %v", err)
	}
	if n := name(err); n != "Retryable" {
		t.Errorf("%v is %s, want Retryable", err, n)
	}
}

// A failure of bbolt itself (writing the file) is transient; fn's own
// errors keep their kind, and a closed store is not retried.
func TestTransactionErrors(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ok := func(*bolt.Tx) error { return nil }
	commitFails := func(db *bolt.DB, fn func(*bolt.Tx) error) error {
		if err := db.View(fn); err != nil {
			return err
		}
		return &fs.PathError{Op: "write", Path: "state.db", Err: syscall.EIO}
	}
	if n := name(s.tx(ctx, commitFails, ok)); n != "Retryable" {
		t.Errorf("a failed commit is %s, want Retryable", n)
	}
	plain := errors.New("bad record")
	if err := s.tx(ctx, commitFails, func(*bolt.Tx) error { return plain }); err != plain {
		t.Errorf("fn's error came back as %v", err)
	}
	_, err = s.GetRun(ctx, "nosuchrun")
	if !errors.Is(err, state.ErrNotFound) || name(err) != "InvalidInput" {
		t.Errorf("missing run: %v (%s)", err, name(err))
	}
	s.Close()
	_, err = s.GetRun(ctx, "r")
	if err == nil || name(err) != "InvalidInput" {
		t.Errorf("closed store: %v (%s), want InvalidInput", err, name(err))
	}
}
