package channel_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stepwise-run/stepwise/shared/send"
)

// groupCounter is the outbox, counting its calls one by one and by group.
type groupCounter struct {
	inner  send.Sender
	mu     sync.Mutex
	ones   int
	groups []int // sizes
}

func (g *groupCounter) Send(ctx context.Context, m *send.Message) (string, error) {
	g.mu.Lock()
	g.ones++
	g.mu.Unlock()
	return g.inner.Send(ctx, m)
}

func (g *groupCounter) SendGroup(ctx context.Context, ms []*send.Message) ([]string, []error) {
	g.mu.Lock()
	g.groups = append(g.groups, len(ms))
	g.mu.Unlock()
	return g.inner.(send.GroupSender).SendGroup(ctx, ms)
}

func (g *groupCounter) Find(ctx context.Context, channel, key string) (string, bool, error) {
	return g.inner.(send.Finder).Find(ctx, channel, key)
}

// A sender that takes groups (the outbox) gets each group's claimed
// messages in one call; a paced activity (rate) still sends one by one.
func TestGroupsGoToTheSenderInOneCall(t *testing.T) {
	for _, c := range []struct {
		act   string
		group bool
	}{{"receipt", true}, {"paced", false}} {
		t.Run(c.act, func(t *testing.T) {
			h := newHarness(t)
			h.opts.Workers, h.opts.Group = 2, 10
			gc := &groupCounter{inner: h.outbox}
			h.deps.Sender = gc
			var rows []cust
			for i := range 40 {
				rows = append(rows, cust{ID: fmt.Sprintf("c%02d", i), Name: "N", Email: fmt.Sprintf("c%d@example.com", i),
					Phone: fmt.Sprintf("+3361234%04d", i), EmailOK: yes, SMSOK: yes})
			}
			in := h.population("pop", rows)
			res := h.plan(c.act, "r1", false, in)
			for _, sl := range slices(res) {
				if _, err := h.send(context.Background(), c.act, "r1", false, in, sl); err != nil {
					t.Fatal(err)
				}
			}
			sum := 0
			for _, n := range gc.groups {
				sum += n
				if n > 10 {
					t.Errorf("a group of %d, more than Group", n)
				}
			}
			if got := len(h.sentTo("r1", c.act)); got != 40 {
				t.Fatalf("%d messages in the outbox, want 40", got)
			}
			if c.group && (gc.ones != 0 || sum != 40) {
				t.Errorf("%d sends one by one, %d in groups %v: want every message in a group", gc.ones, sum, gc.groups)
			}
			if !c.group && (gc.ones != 40 || len(gc.groups) != 0) {
				t.Errorf("paced: %d sends one by one, groups %v: want 40 one by one", gc.ones, gc.groups)
			}
		})
	}
}
