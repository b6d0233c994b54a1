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

// A home written by earlier versions (the file held open by one process, its
// freelist not synced) opens and reads, and is written in the new form.
func TestOpenOlderHome(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	s, err := Open(home)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitTable(ctx, "customers", 0, "v1", time.Unix(1_700_000_000, 0)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Rewrite it as the earlier store did, so its freelist is not synced.
	old, err := bolt.Open(filepath.Join(home, FileName), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Update(func(tx *bolt.Tx) error { return tx.Bucket(bTables).Put([]byte("old"), []byte("{}")) }); err != nil {
		t.Fatal(err)
	}
	old.Close()
	s, err = Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if cur, err := s.CurrentTable(ctx, "customers"); err != nil || cur.Version != 1 {
		t.Fatalf("older home: %+v, %v", cur, err)
	}
	if _, err := s.CommitTable(ctx, "customers", 1, "v2", time.Unix(1_700_000_100, 0)); err != nil {
		t.Fatal(err)
	}
}

// Two stores on one home (as two processes) both read and write: each holds
// the file only for its transactions.
func TestTwoStoresShareAHome(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	done := make(chan error)
	go func() {
		for i := range 50 {
			if _, err := a.CommitTable(ctx, "t", int64(i), "v", time.Unix(1_700_000_000, 0)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 50 {
		if _, err := b.CurrentTable(ctx, "t"); err != nil && !errors.Is(err, state.ErrNotFound) {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if cur, err := b.CurrentTable(ctx, "t"); err != nil || cur.Version != 50 {
		t.Fatalf("b sees %+v, %v", cur, err)
	}
}

// A store writing without pause (its lease never idle) gives the file to
// another that waits for it within a transaction or two.
func TestWaiterGetsTheLease(t *testing.T) {
	ctx := context.Background()
	a, b := twoStores(t)
	stop, done := make(chan struct{}), make(chan error)
	go func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := a.CommitTable(ctx, "t", i, "v", time.Unix(1_700_000_000, 0)); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond) // a holds the lease
	for range 5 {
		start := time.Now()
		if _, err := b.CurrentTable(ctx, "t"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a read beside a busy writer took %v", d)
		}
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// twoStores opens two stores on one home, as two processes would.
func twoStores(t *testing.T) (a, b *Store) {
	t.Helper()
	home := t.TempDir()
	for _, s := range []**Store{&a, &b} {
		st, err := Open(home)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		*s = st
	}
	return a, b
}
