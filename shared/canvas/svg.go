package canvas

import (
	"cmp"
	"fmt"
	"html"
	"slices"
	"strings"
)

// Sizes of the left-to-right layout, in pixels.
const (
	boxW      = 180
	minBoxH   = 66 // a title, a type and two lines of state
	portGap   = 18 // between two ports' anchors: a label's height and room
	slotGap   = 28 // between two activities of a column
	laneH     = 16 // the slot of a transition passing through a column
	curveW    = 64 // the gap between a column's labels and the next column
	margin    = 20
	charW2    = 13 // twice a generous width of an 11px character
	countRoom = 10 // ": " and 8 digits: counts drawn later must fit too
)

// SVG renders the graph as a standalone SVG, left to right: one column per
// level (activities that run concurrently), each activity a box with an
// anchor per output port on its right side. A transition's label (port and
// count) sits above its own horizontal stub, right of the box, in a strip no
// other line crosses: a transition that skips columns runs in a lane of its
// own through them. So labels overlap neither each other nor other lines.
//
// Each activity is a group with class "act" and data-id, each transition (an
// output port and every activity it leads to) a group with class "edge" and
// data-from, data-port and data-to (space-separated), so that a page can find
// them; both are focusable buttons with a spoken label.
func (g Graph) SVG(levels [][]string) string {
	l := g.layout(levels)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n", l.width, l.height, l.width, l.height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	run := g.hasRun()
	// Each activity, then its transitions: the order Tab follows. (No line
	// crosses a box, so the order of painting does not matter.)
	out := map[string][]drawnTransition{}
	for _, t := range l.transitions {
		out[t.from] = append(out[t.from], t)
	}
	for _, n := range g.Nodes {
		if _, ok := l.boxes[n.ID]; ok {
			n.svg(&b, l.boxes[n.ID])
			for _, t := range out[n.ID] {
				t.svg(&b, run)
			}
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func (t drawnTransition) svg(b *strings.Builder, run bool) {
	dash := ""
	if t.count == nil && run {
		dash = ` stroke-dasharray="5,4"`
	}
	aria := t.from + "." + t.port + " to " + strings.Join(t.to, ", ")
	if t.count != nil {
		aria += fmt.Sprintf(", %d rows", *t.count)
	}
	fmt.Fprintf(b, `<g class="edge" data-from="%s" data-port="%s" data-to="%s" tabindex="0" role="button" aria-label="%s">`,
		attr(t.from), attr(t.port), attr(strings.Join(t.to, " ")), attr(aria))
	for _, d := range t.paths {
		fmt.Fprintf(b, `<path d="%s" fill="none" stroke="#555" stroke-width="1.4"%s marker-end="url(#arrow)"/>`, d, dash)
	}
	fmt.Fprintf(b, "\n"+`<text class="count" x="%d" y="%d" font-size="11" fill="#224" paint-order="stroke" stroke="white" stroke-width="3">%s</text></g>`+"\n",
		t.labelX, t.labelY, html.EscapeString(t.label))
}

func (n Node) svg(b *strings.Builder, p box) {
	stroke, fill := "#3b6ea5", "#eef4fb"
	switch n.Status {
	case "failed":
		stroke, fill = "#b3261e", "#fdecea"
	case "skipped":
		stroke, fill = "#999", "#f4f4f4"
	case "succeeded":
		stroke, fill = "#2e7d32", "#edf7ee"
	}
	title := n.ID
	if n.Label != "" {
		title = n.Label
	}
	aria := title + ", " + n.Type
	if n.Status != "" {
		aria += ", " + n.Status
	}
	fmt.Fprintf(b, `<g class="act" data-id="%s" data-status="%s" tabindex="0" role="button" aria-label="%s">`, attr(n.ID), attr(n.Status), attr(aria))
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", p.x, p.y, boxW, p.h, fill, stroke)
	mid := p.y + p.h/2
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="13" font-weight="bold" text-anchor="middle">%s</text>`+"\n", p.x+boxW/2, mid-14, html.EscapeString(truncate(title, 24)))
	fmt.Fprintf(b, `<text class="sub" x="%d" y="%d" font-size="11" fill="#555" text-anchor="middle">%s</text>`+"\n", p.x+boxW/2, mid, html.EscapeString(truncate(n.Type, 30)))
	fmt.Fprintf(b, `<text class="state" x="%d" y="%d" font-size="10" fill="#333" text-anchor="middle">`, p.x+boxW/2, mid+14)
	for i, line := range StateLines(n.Status) {
		fmt.Fprintf(b, `<tspan x="%d" dy="%d">%s</tspan>`, p.x+boxW/2, 12*min(i, 1), html.EscapeString(line))
	}
	b.WriteString("</text></g>\n")
}

type box struct{ x, y, h int }

// portKey names a transition: an activity's output port.
type portKey struct{ from, port string }

// drawnTransition is an output port with its paths (one per activity it
// leads to) and its label.
type drawnTransition struct {
	from, port, label string
	to                []string
	count             *int64
	paths             []string
	labelX, labelY    int
}

type layoutResult struct {
	width, height int
	boxes         map[string]box
	transitions   []drawnTransition
}

// slot is what occupies a column: an activity, or the lane of a transition
// (from.port) passing through.
type slot struct {
	id   string // activity ID, or "from\x00port" for a lane
	lane bool
	h, y int
	key  int // sort key (twice the mean y of its inputs) and index
	idx  int
}

func (g Graph) layout(levels [][]string) layoutResult {
	col := map[string]int{}
	for c, lv := range levels {
		for _, id := range lv {
			col[id] = c
		}
	}
	// Transitions, in edge order; ports of an activity in order of first use.
	var order []portKey
	byKey := map[portKey]*drawnTransition{}
	ports := map[string][]string{}
	inputs := map[string][]portKey{}
	for _, e := range g.Edges {
		_, ok1 := col[e.From]
		_, ok2 := col[e.To]
		if !ok1 || !ok2 {
			continue
		}
		k := portKey{e.From, e.Port}
		t := byKey[k]
		if t == nil {
			t = &drawnTransition{from: e.From, port: e.Port, label: e.label(), count: e.Count}
			byKey[k] = t
			order = append(order, k)
			ports[e.From] = append(ports[e.From], e.Port)
		}
		t.to = append(t.to, e.To)
		inputs[e.To] = append(inputs[e.To], k)
	}
	height := func(id string) int { return max(minBoxH, portGap*(len(ports[id])+1)) }
	// Lanes: a transition passes through every column between its activity
	// and the farthest activity it leads to.
	lanes := make([][]portKey, len(levels))
	reach := map[portKey]int{}
	for _, k := range order {
		last := col[k.from]
		for _, to := range byKey[k].to {
			last = max(last, col[to])
		}
		reach[k] = last
		for c := col[k.from] + 1; c < last; c++ {
			lanes[c] = append(lanes[c], k)
		}
	}
	// Place the columns one after the other: items ordered by the mean
	// height of what leads to them (ties in graph order), stacked.
	portY := map[portKey]int{} // relative to the column's top until centred
	laneY := map[portKey]map[int]int{}
	boxes := map[string]box{}
	cols := make([][]*slot, len(levels))
	colH := make([]int, len(levels))
	inY := func(c int, k portKey) int { // where transition k is in column c-1
		if col[k.from] == c-1 {
			return portY[k]
		}
		return laneY[k][c-1]
	}
	for c, lv := range levels {
		var items []*slot
		for _, id := range lv {
			items = append(items, &slot{id: id, h: height(id)})
		}
		for _, k := range lanes[c] {
			items = append(items, &slot{id: k.from + "\x00" + k.port, lane: true, h: laneH})
		}
		for i, s := range items {
			s.idx = i
			if c == 0 {
				continue
			}
			var sum, n int
			if s.lane {
				k := portKey{}
				k.from, k.port, _ = strings.Cut(s.id, "\x00")
				sum, n = inY(c, k), 1
			} else {
				for _, k := range inputs[s.id] {
					if col[k.from] < c {
						sum += inY(c, k)
						n++
					}
				}
			}
			if n > 0 {
				s.key = 2 * sum / n
			}
		}
		if c > 0 {
			slices.SortStableFunc(items, func(a, b *slot) int { return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.idx, b.idx)) })
		}
		y := 0
		for i, s := range items {
			if i > 0 {
				y += slotGap
			}
			s.y = y
			if s.lane {
				k := portKey{}
				k.from, k.port, _ = strings.Cut(s.id, "\x00")
				if laneY[k] == nil {
					laneY[k] = map[int]int{}
				}
				laneY[k][c] = y + s.h/2
			} else {
				for i, p := range ports[s.id] {
					portY[portKey{s.id, p}] = y + s.h*(i+1)/(len(ports[s.id])+1)
				}
			}
			y += s.h
		}
		cols[c], colH[c] = items, y
	}
	// Column widths: the box, then the strip of the labels of its transitions
	// and lanes, room for counts drawn later included.
	colX := make([]int, len(levels)+1)
	strip := make([]int, len(levels))
	colX[0] = margin
	for c := range levels {
		chars := 0
		for _, s := range cols[c] {
			if !s.lane {
				for _, p := range ports[s.id] {
					chars = max(chars, len([]rune(byKey[portKey{s.id, p}].label))+countRoom)
				}
			}
		}
		if chars > 0 || len(lanes[c]) > 0 {
			strip[c] = 12 + chars*charW2/2
		}
		colX[c+1] = colX[c] + boxW + strip[c] + curveW
	}
	total := 0
	for _, h := range colH {
		total = max(total, h)
	}
	// Centre each column vertically.
	shift := make([]int, len(levels))
	for c := range levels {
		shift[c] = margin + (total-colH[c])/2
		for _, s := range cols[c] {
			if !s.lane {
				boxes[s.id] = box{colX[c], s.y + shift[c], s.h}
			}
		}
	}
	for k, y := range portY {
		portY[k] = y + shift[col[k.from]]
	}
	for _, m := range laneY {
		for c, y := range m {
			m[c] = y + shift[c]
		}
	}
	width := margin
	for c := range levels {
		width = max(width, colX[c]+boxW+strip[c]+margin)
	}
	res := layoutResult{width: width, height: total + 2*margin, boxes: boxes}
	for _, k := range order {
		t := byKey[k]
		c0 := col[k.from]
		y0 := portY[k]
		t.labelX, t.labelY = colX[c0]+boxW+6, y0-4
		// Inputs of the target, spread on its left side in the order of their heights.
		for _, to := range t.to {
			var b strings.Builder
			x, y := colX[c0]+boxW, y0
			fmt.Fprintf(&b, "M %d %d L %d %d", x, y, x+strip[c0], y)
			x += strip[c0]
			ct := col[to]
			for c := c0 + 1; c < ct; c++ {
				ly := laneY[k][c]
				curve(&b, x, y, colX[c], ly)
				x, y = colX[c]+boxW+strip[c], ly
				fmt.Fprintf(&b, " L %d %d", x, y)
			}
			tb := boxes[to]
			ins := inputs[to]
			arrives := func(k portKey) int { // from its port, or its lane in the column before
				if y, ok := laneY[k][col[to]-1]; ok {
					return y
				}
				return portY[k]
			}
			slices.SortStableFunc(ins, func(a, b portKey) int { return cmp.Compare(arrives(a), arrives(b)) })
			i := slices.Index(ins, k)
			ty := tb.y + tb.h*(i+1)/(len(ins)+1)
			if ct <= c0 { // backwards (not in a valid campaign): straight
				fmt.Fprintf(&b, " L %d %d", tb.x, ty)
			} else {
				curve(&b, x, y, tb.x, ty)
			}
			t.paths = append(t.paths, b.String())
		}
		res.transitions = append(res.transitions, *t)
	}
	return res
}

func curve(b *strings.Builder, x0, y0, x1, y1 int) {
	d := (x1 - x0) / 2
	fmt.Fprintf(b, " C %d %d %d %d %d %d", x0+d, y0, x1-d, y1, x1, y1)
}

// stateWidth is the most characters of a line of state in a box.
const stateWidth = 30

// StateLines wraps an activity's state in at most two lines that fit its box
// ("waiting until 2026-12-08 08:00", "Europe/Paris (quiet hours)"); the
// console's script wraps the states it receives the same way.
func StateLines(s string) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len([]rune(line))+1+len([]rune(w)) <= stateWidth || len(lines) == 1:
			line += " " + w
		default:
			lines, line = append(lines, line), w
		}
	}
	if line != "" {
		lines = append(lines, truncate(line, stateWidth))
	}
	return lines
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func attr(s string) string { return html.EscapeString(s) }

// Levels groups the graph's activities as the compiler does: an activity's
// level is one more than its deepest input's, activities in node order inside
// a level. Edges from unknown activities and cycles are ignored.
func (g Graph) Levels() [][]string {
	inputs := map[string][]string{}
	known := map[string]bool{}
	for _, n := range g.Nodes {
		known[n.ID] = true
	}
	for _, e := range g.Edges {
		if known[e.From] && known[e.To] {
			inputs[e.To] = append(inputs[e.To], e.From)
		}
	}
	level := map[string]int{}
	visiting := map[string]bool{}
	var depth func(id string) int
	depth = func(id string) int {
		if l, ok := level[id]; ok {
			return l
		}
		if visiting[id] {
			return 0
		}
		visiting[id] = true
		l := 0
		for _, from := range inputs[id] {
			l = max(l, depth(from)+1)
		}
		visiting[id] = false
		level[id] = l
		return l
	}
	var out [][]string
	for _, n := range g.Nodes {
		l := depth(n.ID)
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], n.ID)
	}
	return out
}
