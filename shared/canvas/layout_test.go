package canvas_test

import (
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/canvas"
)

var update = flag.Bool("update", false, "rewrite the golden SVGs in testdata")

// drawn is what a test reads back from an SVG: boxes, transitions' paths and labels.
type drawn struct {
	G []struct {
		Class string `xml:"class,attr"`
		ID    string `xml:"data-id,attr"`
		From  string `xml:"data-from,attr"`
		Port  string `xml:"data-port,attr"`
		To    string `xml:"data-to,attr"`
		Label string `xml:"aria-label,attr"`
		Tab   string `xml:"tabindex,attr"`
		Rect  struct {
			X, Y, W, H float64
			XA         string `xml:"x,attr"`
			YA         string `xml:"y,attr"`
			WA         string `xml:"width,attr"`
			HA         string `xml:"height,attr"`
		} `xml:"rect"`
		Paths []struct {
			D string `xml:"d,attr"`
		} `xml:"path"`
		Text []struct {
			Class string `xml:"class,attr"`
			X     string `xml:"x,attr"`
			Y     string `xml:"y,attr"`
			Body  string `xml:",chardata"`
		} `xml:"text"`
	} `xml:"g"`
}

type rect struct{ x0, y0, x1, y1 float64 }

func (r rect) has(x, y float64) bool { return x > r.x0 && x < r.x1 && y > r.y0 && y < r.y1 }
func (r rect) meets(o rect) bool     { return r.x0 < o.x1 && o.x0 < r.x1 && r.y0 < o.y1 && o.y0 < r.y1 }
func num(t *testing.T, s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// points samples a path of M, L and C commands.
func points(t *testing.T, d string) [][2]float64 {
	f := strings.Fields(d)
	var out [][2]float64
	var x, y float64
	for i := 0; i < len(f); {
		switch f[i] {
		case "M", "L":
			nx, ny := num(t, f[i+1]), num(t, f[i+2])
			for s := 0; s <= 40; s++ {
				u := float64(s) / 40
				if f[i] == "M" && s > 0 {
					break
				}
				out = append(out, [2]float64{x + (nx-x)*u, y + (ny-y)*u})
			}
			x, y = nx, ny
			i += 3
		case "C":
			x1, y1, x2, y2, x3, y3 := num(t, f[i+1]), num(t, f[i+2]), num(t, f[i+3]), num(t, f[i+4]), num(t, f[i+5]), num(t, f[i+6])
			for s := 0; s <= 40; s++ {
				u := float64(s) / 40
				v := 1 - u
				out = append(out, [2]float64{v*v*v*x + 3*v*v*u*x1 + 3*v*u*u*x2 + u*u*u*x3, v*v*v*y + 3*v*v*u*y1 + 3*v*u*u*y2 + u*u*u*y3})
			}
			x, y = x3, y3
			i += 7
		default:
			t.Fatalf("path command %q in %q", f[i], d)
		}
	}
	return out
}

// checkLayout reads an SVG back and checks the left-to-right layout: every
// transition goes right, and no label meets another label, a box or another
// transition's line. counts is the longest count the labels may show.
func checkLayout(t *testing.T, name, svg string, counts int64) {
	t.Helper()
	var d drawn
	if err := xml.Unmarshal([]byte(svg), &d); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	boxes := map[string]rect{}
	var labels []rect
	var owners []int
	for _, g := range d.G {
		if g.Class == "act" {
			r := g.Rect
			x, y := num(t, r.XA), num(t, r.YA)
			boxes[g.ID] = rect{x, y, x + num(t, r.WA), y + num(t, r.HA)}
			if g.Tab != "0" || g.Label == "" {
				t.Errorf("%s: activity %s is not a labelled focusable", name, g.ID)
			}
		}
	}
	last := ""
	for i, g := range d.G {
		if g.Class == "act" {
			last = g.ID
		}
		if g.Class != "edge" {
			continue
		}
		if g.From != last { // the order Tab follows
			t.Errorf("%s: transition %s.%s does not follow its activity (after %s)", name, g.From, g.Port, last)
		}
		if g.Tab != "0" || g.Label == "" {
			t.Errorf("%s: transition %s.%s is not a labelled focusable", name, g.From, g.Port)
		}
		for _, to := range strings.Fields(g.To) {
			if boxes[to].x0 <= boxes[g.From].x1 {
				t.Errorf("%s: %s.%s → %s does not go right", name, g.From, g.Port, to)
			}
		}
		for _, tx := range g.Text {
			// The widest the label gets once a count is drawn: 6.5 px a character at 11 px.
			w := float64(len([]rune(g.Port+": "+strconv.FormatInt(counts, 10)))) * 6.5
			x, y := num(t, tx.X), num(t, tx.Y)
			labels = append(labels, rect{x, y - 10, x + w, y + 2})
			owners = append(owners, i)
		}
	}
	for a, la := range labels {
		for b := a + 1; b < len(labels); b++ {
			if la.meets(labels[b]) {
				t.Errorf("%s: labels of %s.%s and %s.%s overlap", name, d.G[owners[a]].From, d.G[owners[a]].Port, d.G[owners[b]].From, d.G[owners[b]].Port)
			}
		}
		for id, bx := range boxes {
			if la.meets(bx) {
				t.Errorf("%s: label of %s.%s covers activity %s", name, d.G[owners[a]].From, d.G[owners[a]].Port, id)
			}
		}
		for i, g := range d.G {
			if g.Class != "edge" || i == owners[a] {
				continue
			}
			for _, p := range g.Paths {
				for _, pt := range points(t, p.D) {
					if la.has(pt[0], pt[1]) {
						t.Errorf("%s: the line of %s.%s crosses the label of %s.%s at %v", name, g.From, g.Port, d.G[owners[a]].From, d.G[owners[a]].Port, pt)
						return
					}
				}
			}
		}
	}
}

// Left to right, with labels clear of each other and of other lines, on every
// example, with counts of eight digits (what the console may draw later).
func TestLayoutLeftToRight(t *testing.T) {
	for _, f := range []string{"newsletter", "winback", "birthday", "import", "reference"} {
		p, diags := builtin.CompileFiles("../../examples/"+f+".yaml", "")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		g := canvas.FromCampaign(p.Campaign, nil, nil)
		svg := g.SVG(p.Levels)
		checkLayout(t, f, svg, 99_999_999)
		if again := canvas.FromCampaign(p.Campaign, nil, nil).SVG(p.Levels); again != svg {
			t.Errorf("%s: two drawings differ", f)
		}
		golden := "testdata/" + f + ".svg"
		if *update {
			os.WriteFile(golden, []byte(svg), 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil || string(want) != svg {
			t.Errorf("%s: SVG differs from %s (go test ./shared/canvas -run TestLayoutLeftToRight -update)", f, golden)
		}
	}
}

// A generated graph with splits of many ports, fans and transitions that skip
// columns (the 500-activity canvas of the console's browser test has the same shape).
func TestLayoutOfAWideGraph(t *testing.T) {
	var g canvas.Graph
	add := func(id, typ string) { g.Nodes = append(g.Nodes, canvas.Node{ID: id, Type: typ}) }
	edge := func(from, port, to string) { g.Edges = append(g.Edges, canvas.Edge{From: from, Port: port, To: to}) }
	add("all", "build-audience")
	prev := "all"
	for i := range 12 {
		s := fmt.Sprintf("split%d", i)
		add(s, "split")
		edge(prev, "out", s)
		for _, seg := range []string{"a", "b", "others"} {
			id := fmt.Sprintf("save%d%s", i, seg)
			add(id, "save-audience")
			edge(s, seg, id)
		}
		edge(s, "a", "end") // long transitions to the last column
		prev = fmt.Sprintf("save%db", i)
	}
	add("end", "and-join")
	edge(prev, "out", "end")
	checkLayout(t, "wide", g.SVG(g.Levels()), 99_999_999)
}

// A state wraps in two lines that fit a box.
func TestStateLines(t *testing.T) {
	for s, want := range map[string]string{
		"":          "",
		"succeeded": "succeeded",
		"waiting until 2026-12-08 08:00 Europe/Paris (quiet hours)": "waiting until 2026-12-08 08:00|Europe/Paris (quiet hours)",
		"held for confirmation": "held for confirmation",
		"waiting until 2026-12-08 08:00 America/Argentina/Buenos_Aires (quiet hours)": "waiting until 2026-12-08 08:00|America/Argentina/Buenos_Aire…",
	} {
		if got := strings.Join(canvas.StateLines(s), "|"); got != want {
			t.Errorf("%q: %q, want %q", s, got, want)
		}
	}
}
