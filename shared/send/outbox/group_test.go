package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// countingFile counts the writes made on an outbox file.
type countingFile struct {
	*os.File
	writes *int
}

func (f countingFile) Write(p []byte) (int, error) {
	*f.writes++
	return f.File.Write(p)
}

func group(from, n int) []*send.Message {
	ms := make([]*send.Message, n)
	for i := range ms {
		ms[i] = msg(from+i, key(from+i))
	}
	return ms
}

// A group is one write per file: its lines are records in order, each with
// its own id, found by key afterwards; a message without an address fails
// alone.
func TestSendGroupIsOneWrite(t *testing.T) {
	dir := t.TempDir()
	o := outbox.New(dir)
	writes := 0
	outbox.SetOpen(o, func(p string) (outbox.File, error) {
		f, err := outbox.OpenFile(p)
		if err != nil {
			return nil, err
		}
		return countingFile{f.(*os.File), &writes}, nil
	})
	ms := group(0, 50)
	ms[7].To = ""
	ms[9].Tags = map[string]string{send.TagRun: "r1", send.TagActivity: "other"}
	ids, errs := o.SendGroup(context.Background(), ms)
	if writes != 2 {
		t.Errorf("%d writes for a group to two files, want 2", writes)
	}
	var pe *send.Permanent
	if !errors.As(errs[7], &pe) || ids[7] != "" {
		t.Errorf("the message without an address: %q %v", ids[7], errs[7])
	}
	for i, err := range errs {
		if i != 7 && (err != nil || ids[i] != outbox.ID(key(i))) {
			t.Errorf("message %d: %q %v", i, ids[i], err)
		}
	}
	var want []string
	for i := range 50 {
		if i != 7 && i != 9 {
			want = append(want, key(i))
		}
	}
	if got := wholeLines(t, outbox.Path(dir, "r1", "act")); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("keys %v", got)
	}
	o2 := outbox.New(dir)
	for _, i := range []int{0, 9, 49} {
		if id, ok, err := o2.Find(context.Background(), "email", key(i)); !ok || err != nil || id != outbox.ID(key(i)) {
			t.Errorf("find %s: %q %v %v", key(i), id, ok, err)
		}
	}
}

// A disk that fills during a group's write: every message of the group
// fails transiently and none of its lines stays (whole or nothing); the
// lines written before are kept, and the next group appends after them.
func TestSendGroupFullDiskIsWholeOrNothing(t *testing.T) {
	dir := t.TempDir()
	o := outbox.New(dir)
	budget := 1 << 20
	outbox.SetOpen(o, func(p string) (outbox.File, error) {
		f, err := outbox.OpenFile(p)
		if err != nil {
			return nil, err
		}
		return fullDisk{File: f.(*os.File), budget: &budget}, nil
	})
	ctx := context.Background()
	if _, errs := o.SendGroup(ctx, group(0, 3)); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	one, _ := json.Marshal(outbox.Record{ID: "x", Message: *msg(0, key(0))})
	budget = 2*len(one) + len(one)/2 // two lines and a half of a group of five
	ids, errs := o.SendGroup(ctx, group(3, 5))
	for i, err := range errs {
		var tr *send.Transient
		if !errors.As(err, &tr) || !strings.Contains(err.Error(), "no space left on device") || ids[i] != "" {
			t.Errorf("message %d of the group that did not fit: %q %v", i, ids[i], err)
		}
	}
	path := outbox.Path(dir, "r1", "act")
	if got := strings.Join(wholeLines(t, path), ","); got != "sw-0000,sw-0001,sw-0002" {
		t.Fatalf("after the failed group: %s", got)
	}
	if _, ok, _ := outbox.New(dir).Find(ctx, "email", key(3)); ok {
		t.Error("a message of the failed group is found")
	}
	budget = 1 << 20
	if _, errs := o.SendGroup(ctx, group(3, 2)); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	o.Close()
	if got := strings.Join(wholeLines(t, path), ","); got != "sw-0000,sw-0001,sw-0002,sw-0003,sw-0004" {
		t.Errorf("after space came back: %s", got)
	}
}

// A crash in the middle of a group's write leaves its first lines whole and
// a torn one: the whole ones are messages sent (found by key), the torn one
// is not, and the next open cuts it.
func TestCrashMidGroupKeepsWholeLines(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	// What a group of three would have written, cut in its third line.
	var lines []byte
	for i := range 3 {
		b, _ := json.Marshal(outbox.Record{ID: outbox.ID(key(i)), Message: *msg(i, key(i))})
		lines = append(append(lines, b...), '\n')
	}
	lines = lines[:len(lines)-20]
	path := outbox.Path(dir, "r1", "act")
	o := outbox.New(dir)
	if _, err := o.Send(ctx, msg(9, key(9))); err != nil { // creates the file
		t.Fatal(err)
	}
	o.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(lines)
	f.Close()
	o = outbox.New(dir)
	for i, want := range []bool{true, true, false} {
		if _, ok, err := o.Find(ctx, "email", key(i)); ok != want || err != nil {
			t.Errorf("find %s after the crash: %v %v, want %v", key(i), ok, err, want)
		}
	}
	if _, errs := o.SendGroup(ctx, group(2, 2)); errors.Join(errs...) != nil {
		t.Fatal(errs)
	}
	o.Close()
	if got := strings.Join(wholeLines(t, path), ","); got != "sw-0009,sw-0000,sw-0001,sw-0002,sw-0003" {
		t.Errorf("keys %s", got)
	}
}
