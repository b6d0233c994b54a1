package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// fullDisk is a file on which writes fail with ENOSPC once budget bytes are
// written, after writing what fits (as write(2) does on a full disk).
type fullDisk struct {
	*os.File
	budget *int
	// noTruncate makes Truncate fail too (the disk is gone for a moment).
	noTruncate *bool
}

func (f fullDisk) Truncate(size int64) error {
	if f.noTruncate != nil && *f.noTruncate {
		return syscall.EIO
	}
	return f.File.Truncate(size)
}

func (f fullDisk) Write(p []byte) (int, error) {
	if len(p) <= *f.budget {
		*f.budget -= len(p)
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:*f.budget])
	*f.budget = 0
	return n, syscall.ENOSPC
}

// wholeLines checks that every line of the file is a complete record and
// returns their keys; the file ends with a newline (or is empty).
func wholeLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Fatalf("%s ends with a torn line: %q", path, b[bytes.LastIndexByte(b, '\n')+1:])
	}
	var keys []string
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 && len(b) == 0 {
			break
		}
		var r outbox.Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s line %d is not a record (%v): %q", path, i+1, err, line)
		}
		keys = append(keys, r.IdempotencyKey)
	}
	return keys
}

func key(i int) string { return fmt.Sprintf("sw-%04d", i) }

// A disk that fills mid-line: the send fails transiently naming the cause,
// the file keeps whole lines only, and once space is back the same outbox
// appends again (nothing glued to a partial line).
func TestFullDiskLeavesWholeLines(t *testing.T) {
	dir := t.TempDir()
	o := outbox.New(dir)
	budget, noTruncate := 0, false
	outbox.SetOpen(o, func(p string) (outbox.File, error) {
		f, err := outbox.OpenFile(p)
		if err != nil {
			return nil, err
		}
		return fullDisk{f.(*os.File), &budget, &noTruncate}, nil
	})
	ctx := context.Background()
	one, _ := json.Marshal(outbox.Record{ID: "x", Message: *msg(0, key(0))})
	budget = 3*len(one) + len(one)/2 // three lines and a half
	sent := 0
	var last error
	for i := range 6 {
		if _, err := o.Send(ctx, msg(i, key(i))); err != nil {
			last = err
			break
		}
		sent++
	}
	var tr *send.Transient
	if !errors.As(last, &tr) || !strings.Contains(last.Error(), "no space left on device") {
		t.Fatalf("the failed append: %v (want a transient error naming the full disk)", last)
	}
	path := outbox.Path(dir, "r1", "act")
	if got := wholeLines(t, path); len(got) != sent || sent == 0 {
		t.Fatalf("%d sends succeeded, the file holds %v", sent, got)
	}
	if _, ok, _ := outbox.New(dir).Find(ctx, "email", key(sent)); ok {
		t.Error("the message that did not fit is found")
	}
	budget = 1 << 20 // space is back
	if _, err := o.Send(ctx, msg(sent, key(sent))); err != nil {
		t.Fatal(err)
	}
	// A write that fails and cannot be cut back either: the next send
	// reopens the file, which cuts the partial line.
	budget, noTruncate = len(one)/2, true
	if _, err := o.Send(ctx, msg(sent+1, key(sent+1))); err == nil || !strings.Contains(err.Error(), "cutting the partial line back failed") {
		t.Fatalf("a write on a failing disk: %v", err)
	}
	budget, noTruncate = 1<<20, false
	if _, err := o.Send(ctx, msg(sent+2, key(sent+2))); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if got := wholeLines(t, path); len(got) != sent+2 || got[sent] != key(sent) || got[sent+1] != key(sent+2) {
		t.Errorf("after space came back: %v", got)
	}
}

// A torn tail left by a crash is cut when the file is opened again: the
// file is whole lines, not a line of garbage followed by records.
func TestReopenCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	o := outbox.New(dir)
	for i := range 3 {
		if _, err := o.Send(ctx, msg(i, key(i))); err != nil {
			t.Fatal(err)
		}
	}
	o.Close()
	path := outbox.Path(dir, "r1", "act")
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"outbox-torn","idempotencyKey":"sw-torn`)
	f.Close()
	o = outbox.New(dir)
	if _, err := o.Send(ctx, msg(3, key(3))); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if got := strings.Join(wholeLines(t, path), ","); got != "sw-0000,sw-0001,sw-0002,sw-0003" {
		t.Errorf("keys %s", got)
	}
}

// The outbox holds personal data: files 0600 and folders 0700, even under a
// umask that would let everyone read them, and an older wider file narrowed.
func TestOutboxIsPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	home := t.TempDir()
	dir := filepath.Join(home, "outbox")
	o := outbox.New(dir)
	if _, err := o.Send(context.Background(), msg(0, key(0))); err != nil {
		t.Fatal(err)
	}
	o.Close()
	path := outbox.Path(dir, "r1", "act")
	for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(path): 0o700, path: 0o600} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, st.Mode().Perm(), want, err)
		}
	}
	os.Chmod(path, 0o644)
	os.Chmod(dir, 0o755)
	o = outbox.New(dir)
	if _, err := o.Send(context.Background(), msg(1, key(1))); err != nil {
		t.Fatal(err)
	}
	o.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		if st, _ := os.Stat(p); st.Mode().Perm() != want {
			t.Errorf("an older %s is not narrowed: %v", p, st.Mode().Perm())
		}
	}
}
