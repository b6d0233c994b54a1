package channel

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A paced slice takes groups its rate sends within a quarter of the lease,
// so that no claim of a group runs out before its turn.
func TestGroupSizeFollowsTheRate(t *testing.T) {
	for _, c := range []struct {
		limit   rate.Limit
		workers int
		want    int
	}{
		{rate.Inf, 8, 256}, // no pace: the configured group
		{100, 2, 256},      // 50/s per worker for 30 s: 1,500 > 256
		{10, 4, 75},        // 2.5/s per worker for 30 s
		{0.01, 8, 1},       // slower than one message per quarter lease
	} {
		d := &deliverer{opts: Options{Group: 256, Workers: c.workers, Lease: 2 * time.Minute}}
		if c.limit != rate.Inf {
			d.limiter = rate.NewLimiter(c.limit, 1)
		}
		if got := d.groupSize(); got != c.want {
			t.Errorf("rate %v, %d workers: group %d, want %d", c.limit, c.workers, got, c.want)
		}
	}
}
