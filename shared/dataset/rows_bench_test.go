package dataset_test

import (
	"database/sql/driver"
	"fmt"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// go test ./shared/dataset -run '^$' -bench WriteRows -benchmem
// 100k rows shaped like a channel slice's outcomes.
func BenchmarkWriteRows100k(b *testing.B) {
	cols := []dataset.Column{
		{Name: "_sw_row", Type: campaign.TypeInteger}, {Name: "status", Type: campaign.TypeString},
		{Name: "messageId", Type: campaign.TypeString}, {Name: "variant", Type: campaign.TypeString},
		{Name: "reason", Type: campaign.TypeString}, {Name: "recipient", Type: campaign.TypeString},
		{Name: "address", Type: campaign.TypeString}, {Name: "token", Type: campaign.TypeString},
		{Name: "sentAt", Type: campaign.TypeTimestamp},
	}
	e := engine(b, folder(b))
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("c%07d", i)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, err := e.WriteRows(ctx, dataset.Output{Ref: dataset.Ref(fmt.Sprintf("runs/r/a/p%d", i))}, cols, n, func(j int, dst []driver.Value) {
			dst[0], dst[1], dst[2], dst[3] = int64(j), "sent", "test-"+ids[j], nil
			dst[5], dst[6], dst[7], dst[8] = ids[j], ids[j]+"@example.com", "tok-0123456789abcdef-"+ids[j], at
		}, "")
		if err != nil {
			b.Fatal(err)
		}
	}
}
