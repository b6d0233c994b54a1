package outbox_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

func msg(i int, key string) *send.Message {
	return &send.Message{Channel: "email", To: "a@example.com", Subject: "s", IdempotencyKey: key,
		Tags: map[string]string{send.TagRun: "r1", send.TagActivity: "act", send.TagRecipient: "k"}}
}

func TestAppendFindRead(t *testing.T) {
	dir := t.TempDir()
	o := outbox.New(dir)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := o.Send(context.Background(), msg(i, "sw-"+string(rune('a'+i%26))+string(rune('a'+i/26)))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	o.Close()
	recs, err := outbox.ReadFile(outbox.Path(dir, "r1", "act"))
	if err != nil || len(recs) != 50 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	// A torn last line (a crash mid-write) is skipped; Find in a new process
	// sees the complete lines.
	f, _ := os.OpenFile(outbox.Path(dir, "r1", "act"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"outbox-torn","idempotencyKey":"sw-torn`)
	f.Close()
	o2 := outbox.New(dir)
	if id, ok, err := o2.Find(context.Background(), "email", "sw-aa"); err != nil || !ok || id != outbox.ID("sw-aa") {
		t.Errorf("find: %q %v %v", id, ok, err)
	}
	if _, ok, _ := o2.Find(context.Background(), "email", "sw-torn"); ok {
		t.Error("found a torn line")
	}
	if _, err := o2.Send(context.Background(), msg(0, "sw-new")); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := o2.Find(context.Background(), "email", "sw-new"); !ok {
		t.Error("a new message is not found")
	}
	all, err := outbox.Read(dir)
	if err != nil || len(all) != 51 {
		t.Errorf("read %d, %v", len(all), err)
	}
	if filepath.Base(outbox.Path(dir, "../x", "a/b")) != "a_b.jsonl" {
		t.Error("unsafe path")
	}
}
