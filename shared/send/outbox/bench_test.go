package outbox_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send"
	"github.com/stepwise-run/stepwise/shared/send/outbox"
)

// Appending 256 emails (~2 KB of HTML each) one by one and as one group.
//
//	go test ./shared/send/outbox -run '^$' -bench Append
func BenchmarkAppend(b *testing.B) {
	html := "<html><body><p>Hello {{ name }}, here is 15% off &amp; more.</p>" + strings.Repeat("<p>Lorem ipsum dolor sit amet.</p>", 60) + "</body></html>"
	ms := make([]*send.Message, 256)
	for i := range ms {
		m := msg(i, key(i))
		m.HTML, m.From = html, "Shop <news@shop.example>"
		m.Headers = []send.Header{{Name: "List-Unsubscribe", Value: "<https://u.example/unsubscribe/abc>"}}
		ms[i] = m
	}
	ctx := context.Background()
	b.Run("one-by-one", func(b *testing.B) {
		o := outbox.New(b.TempDir())
		defer o.Close()
		for range b.N {
			for _, m := range ms {
				if _, err := o.Send(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(ms))/b.Elapsed().Seconds(), "msgs/s")
	})
	b.Run("group", func(b *testing.B) {
		o := outbox.New(b.TempDir())
		defer o.Close()
		for range b.N {
			if _, errs := o.SendGroup(ctx, ms); errs[0] != nil {
				b.Fatal(errs[0])
			}
		}
		b.ReportMetric(float64(b.N*len(ms))/b.Elapsed().Seconds(), "msgs/s")
	})
}
