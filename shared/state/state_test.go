package state

import (
	"slices"
	"testing"
	"time"
)

func TestCanTransition(t *testing.T) {
	all := []CampaignStatus{CampaignDraft, CampaignScheduled, CampaignLive, CampaignCompleted, CampaignStopped, CampaignClosed, CampaignArchived}
	allowed := map[[2]CampaignStatus]bool{
		{CampaignScheduled, CampaignLive}: true, {CampaignScheduled, CampaignCompleted}: true, {CampaignScheduled, CampaignStopped}: true,
		{CampaignLive, CampaignCompleted}: true, {CampaignLive, CampaignStopped}: true, {CampaignLive, CampaignClosed}: true,
		{CampaignScheduled, CampaignDraft}: true, {CampaignLive, CampaignDraft}: true,
	}
	for _, from := range all {
		if from != CampaignDraft && from != CampaignArchived {
			allowed[[2]CampaignStatus{from, CampaignArchived}] = true
		}
	}
	for _, from := range all {
		for _, to := range all {
			if got, want := CanTransition(from, to), allowed[[2]CampaignStatus{from, to}]; got != want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	publishable := []CampaignStatus{CampaignDraft, CampaignScheduled, CampaignLive}
	for _, from := range all {
		for _, to := range all {
			want := slices.Contains(publishable, from) && (to == CampaignScheduled || to == CampaignLive)
			if got := CanPublish(from, to); got != want {
				t.Errorf("CanPublish(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestNormalizeAddress(t *testing.T) {
	for _, c := range []struct{ channel, in, want string }{
		{"email", "  Ann@Example.COM\t", "ann@example.com"},
		{"sms", "+1 (555) 010-99.99", "+15550109999"},
		{"push", " Tok3n ", "Tok3n"},
	} {
		if got := NormalizeAddress(c.channel, c.in); got != c.want {
			t.Errorf("NormalizeAddress(%s, %q) = %q, want %q", c.channel, c.in, got, c.want)
		}
	}
}

func TestCapLog(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var l CapLog
	l = l.Record(t0.Add(2*time.Hour), "b")
	l = l.Record(t0, "a") // out of order: kept sorted
	if l[0].Ref != "a" || l.Count(t0.Add(time.Hour)) != 1 {
		t.Fatalf("log %v", l)
	}
	l, ok := l.Reserve(CapRequest{Max: 2, Since: t0, At: t0.Add(3 * time.Hour), Ref: "c"})
	if ok {
		t.Fatalf("reserved over the cap: %v", l)
	}
	if l, ok = l.Reserve(CapRequest{Max: 3, Since: t0, At: t0.Add(3 * time.Hour), Ref: "c"}); !ok || len(l) != 3 {
		t.Fatalf("reserve under the cap: %v %v", ok, l)
	}
	for i := range MaxCapEntries + 10 {
		l = l.Record(t0.Add(time.Duration(i)*time.Minute), "")
	}
	if len(l) != MaxCapEntries {
		t.Fatalf("log not bounded: %d", len(l))
	}
}

func TestCleanLine(t *testing.T) {
	long := string(make([]byte, 5000))
	if got := cleanLine(long); len(got) > MaxLogLineBytes {
		t.Fatalf("line of %d bytes", len(got))
	}
	if got := cleanLine("a\x00b\x1b[31mc\xff"); got != "a b [31mc\uFFFD" {
		t.Fatalf("cleanLine = %q", got)
	}
}

func TestRunTransitions(t *testing.T) {
	all := []RunStatus{RunRunning, RunSucceeded, RunFailed, RunStopped, RunSuspended}
	for _, from := range all {
		for _, to := range all {
			want := (from == RunRunning || from == RunSuspended) && from != to || from == RunFailed && to == RunRunning
			if got := CanRunTransition(from, to); got != want {
				t.Errorf("CanRunTransition(%s, %s) = %v, want %v", from, to, got, want)
			}
		}
	}
	at := time.Unix(1000, 0)
	failed, err := MoveRun(Run{ID: "r", Status: RunRunning}, RunRunning, RunFailed, "Retryable: disk full", at)
	if err != nil || failed.EndedAt.IsZero() {
		t.Fatalf("%+v %v", failed, err)
	}
	resumed, err := MoveRun(failed, RunFailed, RunRunning, "resumed", at)
	if err != nil || !resumed.EndedAt.IsZero() || resumed.Status != RunRunning {
		t.Errorf("a resumed run: %+v %v", resumed, err)
	}
}
