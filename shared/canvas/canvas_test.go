package canvas_test

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/canvas"
)

func TestGraphFormats(t *testing.T) {
	p, diags := builtin.CompileFiles("../../examples/newsletter.yaml", "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	g := canvas.FromCampaign(p.Campaign, nil, nil)
	m := g.Mermaid()
	for _, want := range []string{"flowchart LR", `a_enough -->|big| a_fan`, `a_enough -->|else| a_tooSmall`, `a_fan -->|mail| a_sendMail`, `a_sendPush -->|out| a_both`} {
		if !strings.Contains(m, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, m)
		}
	}
	d := g.DOT()
	for _, want := range []string{`"fan" -> "sendMail" [label="mail"]`, `"subscribers" -> "enough" [label="out"]`, "rankdir=LR"} {
		if !strings.Contains(d, want) {
			t.Errorf("dot lacks %q:\n%s", want, d)
		}
	}
	// With a run: counts on activated transitions, dashed edges elsewhere.
	counts := canvas.Counts{"subscribers": {"out": 1234}, "enough": {"big": 1234}}
	g = canvas.FromCampaign(p.Campaign, counts, map[string]string{"tooSmall": "skipped"})
	m = g.Mermaid()
	if !strings.Contains(m, `a_subscribers -->|out: 1234| a_enough`) || !strings.Contains(m, `a_enough -.->|else| a_tooSmall`) {
		t.Errorf("run counts not drawn:\n%s", m)
	}
	svg := g.SVG(p.Levels)
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("SVG is not well-formed XML: %v", err)
	}
	if !strings.Contains(svg, "out: 1234") || strings.Count(svg, "<rect") < len(p.Campaign.Activities) {
		t.Errorf("SVG lacks counts or boxes")
	}
}

// The console lays a graph out without compiling it: its levels are the compiler's.
func TestLevelsAreTheCompilers(t *testing.T) {
	for _, f := range []string{"newsletter", "winback", "birthday", "import", "reference"} {
		p, diags := builtin.CompileFiles("../../examples/"+f+".yaml", "")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		got := canvas.FromCampaign(p.Campaign, nil, nil).Levels()
		if !reflect.DeepEqual(got, p.Levels) {
			t.Errorf("%s: levels %v, compiler %v", f, got, p.Levels)
		}
	}
}

func TestSVGMarksActivitiesAndTransitions(t *testing.T) {
	p, diags := builtin.CompileFiles("../../examples/winback.yaml", "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	svg := canvas.FromCampaign(p.Campaign, nil, nil).SVG(p.Levels)
	for _, want := range []string{`<g class="act" data-id="lapsed" data-status="" tabindex="0" role="button" aria-label="lapsed, build-audience">`,
		`<g class="edge" data-from="byValue" data-port="vip" data-to="sendVip saveVips" tabindex="0" role="button" aria-label="byValue.vip to sendVip, saveVips">`} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %s", want)
		}
	}
}
