//go:build linux

package outbox_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// A real full filesystem (a 64 KiB tmpfs): the sends that fail leave no
// partial line. Needs mount(2) (root): skipped where it is not permitted, except
// under CI, which must run it.
func TestRealFullFilesystem(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must be able to mount a tmpfs (run as root): %v", err)
		}
		t.Skipf("mounting a tmpfs is not permitted here: %v", err)
	}
	defer syscall.Unmount(dir, 0)
	ctx := context.Background()
	o := outbox.New(dir)
	big := strings.Repeat("x", 1500) // lines that do not divide a page
	sent, failed := 0, 0
	for i := 0; failed < 3 && i < 1000; i++ {
		m := msg(i, key(i))
		m.Text = big
		if _, err := o.Send(ctx, m); err != nil {
			if !errors.Is(err, syscall.ENOSPC) && !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("send %d: %v", i, err)
			}
			failed++
			continue
		}
		sent++
	}
	o.Close()
	if failed == 0 {
		t.Fatal("the filesystem never filled")
	}
	if got := wholeLines(t, outbox.Path(dir, "r1", "act")); len(got) != sent {
		t.Errorf("%d sends succeeded, %d whole lines", sent, len(got))
	}
}
