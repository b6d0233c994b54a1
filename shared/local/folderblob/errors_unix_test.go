//go:build unix

package folderblob_test

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/stepwise-run/stepwise/shared/failure"
)

// A file system failure that may pass (here too many open files) keeps its
// errno through the store's messages, so the function boundary retries it.
func TestOutOfFilesIsRetryable(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	if err := s.Put(ctx, "k", strings.NewReader("v")); err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	none := lim
	none.Cur = 0
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &none); err != nil {
		t.Skip(err)
	}
	_, getErr := s.Get(ctx, "k")
	putErr := s.Put(ctx, "k2", strings.NewReader("v"))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		op  string
		err error
	}{{"Get", getErr}, {"Put", putErr}} {
		op, err := c.op, c.err
		if err == nil {
			t.Fatalf("%s succeeded without a file descriptor", op)
		}
		if n := failure.Name(failure.Classify(err)); n != "Retryable" {
			t.Errorf("%s: %v is %s, want Retryable", op, err, n)
		}
		if strings.Contains(err.Error(), s.Root()) {
			t.Errorf("%s: the message shows the store's folder: %v", op, err)
		}
	}
}
