package channel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
)

// A test run keeps the first ProofSample messages by recipient key over all
// its slices, only of recipients it would send to; a live run keeps none.
// RenderProofs renders chosen recipients of the same plan, skipped ones too.
func TestProofSampleAcrossSlices(t *testing.T) {
	h := newHarness(t)
	var rows []cust
	for i := 17; i >= 1; i-- {
		c := cust{ID: fmt.Sprintf("c%02d", i), Name: fmt.Sprintf("N%d", i), Email: fmt.Sprintf("c%d@example.com", i), EmailOK: yes}
		if i == 2 {
			c.EmailOK = no
		}
		rows = append(rows, c)
	}
	in := h.population("t1", rows)
	res := h.run("crash", "t1", true, in) // sliceSize 5: 4 slices
	if res.Counts["out"] != 16 {
		t.Fatalf("counts %v", res.Counts)
	}
	ctx := context.Background()
	ps, err := channel.ReadProofs(ctx, h.deps.Data.Blob, "t1", "crash")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Recipient)
		if p.Subject != "Hi N"+strings.TrimLeft(p.Recipient[1:], "0") || p.HTML == "" || len(p.Headers) != 2 || p.Headers[1].Name != "List-Unsubscribe-Post" ||
			!strings.Contains(p.EML, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") || p.UnsubscribeURL == "" {
			t.Fatalf("proof %+v", p)
		}
		// A test run renders its messages without tags; its proofs are tagged.
		if !strings.Contains(p.EML, "X-Stepwise-Run: t1\r\n") || !strings.Contains(p.EML, "X-Stepwise-Recipient: "+p.Recipient+"\r\n") ||
			!strings.HasSuffix(p.Headers[0].Value, ", <"+p.UnsubscribeURL+">") {
			t.Fatalf("proof without its tags or links: %+v", p)
		}
	}
	if strings.Join(got, ",") != "c01,c03,c04,c05,c06" {
		t.Fatalf("sample %v, want the first 5 sent by key", got)
	}
	live := h.population("l1", rows)
	h.run("crash", "l1", false, live)
	if _, err := channel.ReadProofs(ctx, h.deps.Data.Blob, "l1", "crash"); !errors.Is(err, channel.ErrNoProofs) {
		t.Fatalf("live run: %v", err)
	}

	comp, err := h.plans.Load(ctx, h.p.Campaign.ID, h.p.Bundle.Digest)
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := comp.Decoded("crash")
	call := &activity.Call{Env: h.env, Plan: comp, Activity: a, Req: h.request("crash", "t1", true, in, "")}
	sel, err := channel.RenderProofs(ctx, h.deps, call, channel.Selection{Keys: []string{"c02", "c10"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) != 2 || sel[0].Recipient != "c02" || sel[0].Skip != channel.ReasonNoConsent || sel[0].Subject != "Hi N2" ||
		sel[1].Recipient != "c10" || sel[1].Skip != "" || sel[1].To != "c10@example.com" {
		t.Fatalf("selected %+v", sel)
	}
	if _, err := channel.RenderProofs(ctx, h.deps, call, channel.Selection{Keys: []string{"zz"}}); err == nil ||
		!strings.Contains(err.Error(), `no recipient with key "zz" among its 17 recipients (key customerId; keys look like "c01", "c02", "c03")`) {
		t.Fatalf("unknown key: %v", err)
	}
	a1, _ := channel.RenderProofs(ctx, h.deps, call, channel.Selection{Sample: 4})
	a2, _ := channel.RenderProofs(ctx, h.deps, call, channel.Selection{Sample: 4})
	if len(a1) != 4 || fmt.Sprint(a1) != fmt.Sprint(a2) {
		t.Fatalf("sample not deterministic: %v / %v", a1, a2)
	}
}
