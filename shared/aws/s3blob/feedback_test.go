package s3blob_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/feedback"
)

// message_feedback in parts on S3: appends write parts (conditional
// creates on S3), a second engine (another Lambda, empty cache) reads every
// row, dedups against the stored parts, and compacts.
func TestFeedbackPartsOnS3(t *testing.T) {
	client, _ := fake(t)
	store := s3blob.New(client, "bucket", "wh")
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	recs := func(from, to int) []feedback.Record {
		var out []feedback.Record
		for i := from; i < to; i++ {
			out = append(out, feedback.Record{ID: fmt.Sprintf("e%04d", i), Event: feedback.Opened, Channel: "email", At: at})
		}
		return out
	}
	open := func() *dataset.Engine {
		eng, err := dataset.New(dataset.Options{Store: store, WorkDir: t.TempDir(), Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		return eng
	}
	log := tablelog.New(store, nil)
	a := open()
	for i := range 11 { // the tenth small part triggers a compaction
		if n, err := feedback.Append(ctx, a, log, t.TempDir(), recs(i*3, i*3+3), at); err != nil || n != 3 {
			t.Fatalf("append %d: %d %v", i, n, err)
		}
	}
	b := open()
	if n, err := feedback.Append(ctx, b, log, t.TempDir(), recs(0, 40), at); err != nil || n != 7 {
		t.Fatalf("append on a fresh engine: %d %v", n, err)
	}
	cur, err := log.CurrentTable(ctx, feedback.Table)
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.ReadManifest(ctx, store, dataset.Ref(cur.Ref))
	if err != nil || len(m.Parts) != 3 || m.Rows != 40 {
		t.Fatalf("%+v %v", m, err)
	}
	c := open()
	if _, err := c.StageDataset(ctx, "fb", dataset.Ref(cur.Ref)); err != nil {
		t.Fatal(err)
	}
	row, err := c.QueryRow(ctx, "SELECT count(DISTINCT eventId) FROM fb")
	if err != nil || row[0] != int64(40) {
		t.Fatalf("%v %v", row, err)
	}
}
