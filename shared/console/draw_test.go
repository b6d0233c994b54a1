package console

import (
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/api"
)

// The canvas of a run shows each activity's state, what a running one waits
// for, and a count on each activated transition only.
func TestCanvasOfARun(t *testing.T) {
	n := int64(42)
	until := time.Date(2026, 12, 8, 7, 0, 0, 0, time.UTC)
	run := &api.RunView{ID: "r", CampaignID: "c", Status: "running",
		Activities: []api.ActivityView{
			{ID: "pick", Type: "build-audience", Status: "succeeded", Ports: map[string]int64{"out": n}},
			{ID: "pause", Type: "wait", Status: "running", Waiting: &api.WaitView{Reason: "wait", Until: &until, Zone: "Europe/Paris"}},
			{ID: "mail", Type: "email", Status: "running", Waiting: &api.WaitView{Reason: "held"}},
			{ID: "sms", Type: "sms", Status: "running", Waiting: &api.WaitView{Reason: "quiet hours", Until: &until, Zone: "Europe/Paris"}},
			{ID: "later", Type: "wait", Status: "suspended"},
			{ID: "done", Type: "end", Status: "not_started"},
		},
		Transitions: []api.Transition{
			{From: "pick", Port: "out", To: []string{"pause"}, Activated: true, Count: &n},
			{From: "pause", Port: "out", To: []string{"mail"}},
			{From: "mail", Port: "out", To: []string{"done"}},
			{From: "pick", Port: "out", To: []string{"sms"}, Activated: true, Count: &n},
			{From: "sms", Port: "out", To: []string{"later"}},
		}}
	svg := drawCanvas(nil, run)
	for _, want := range []string{
		`data-id="pause" data-status="waiting until 2026-12-08 08:00 Europe/Paris (wait)"`,
		`data-id="mail" data-status="held for confirmation"`,
		`data-id="sms" data-status="waiting until 2026-12-08 08:00 Europe/Paris (quiet hours)" tabindex="0" role="button" aria-label="sms, sms, waiting until 2026-12-08 08:00 Europe/Paris (quiet hours)"`,
		`data-id="later" data-status="suspended"`,
		`data-from="pick" data-port="out" data-to="pause sms" tabindex="0" role="button" aria-label="pick.out to pause, sms, 42 rows"`,
		`data-id="pick" data-status="succeeded"`,
		`>out: 42</text>`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("canvas lacks %s:\n%s", want, svg)
		}
	}
	if strings.Count(svg, ">out: 42<") != 1 || strings.Count(svg, `class="edge"`) != 4 {
		t.Errorf("want one counted transition of four:\n%s", svg)
	}
	// Levels: one activity a column, in order.
	if i, j := strings.Index(svg, `data-id="pick"`), strings.Index(svg, `data-id="done"`); i < 0 || j < i {
		t.Errorf("activities out of order")
	}
}
