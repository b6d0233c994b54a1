package canvas

import (
	"fmt"
	"html"
	"strings"
)

// SVG renders the graph as a standalone SVG: one row per level (activities
// that run concurrently), edges labelled with ports and counts. Each activity
// is a group with class "act" and data-id, each transition a group with class
// "edge" and data-from, data-port and data-to, so that a page can find them.
func (g Graph) SVG(levels [][]string) string {
	const boxW, boxH, gapX, gapY, margin = 180, 54, 40, 70, 20
	pos := map[string][2]int{}
	width := 0
	for row, lv := range levels {
		for col, id := range lv {
			pos[id] = [2]int{margin + col*(boxW+gapX), margin + row*(boxH+gapY)}
		}
		width = max(width, margin*2+len(lv)*(boxW+gapX)-gapX)
	}
	height := margin*2 + len(levels)*(boxH+gapY) - gapY
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n", width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>` + "\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for _, e := range g.Edges {
		from, ok1 := pos[e.From]
		to, ok2 := pos[e.To]
		if !ok1 || !ok2 {
			continue
		}
		x1, y1 := from[0]+boxW/2, from[1]+boxH
		x2, y2 := to[0]+boxW/2, to[1]
		dash := ""
		if e.Count == nil && g.hasRun() {
			dash = ` stroke-dasharray="5,4"`
		}
		fmt.Fprintf(&b, `<g class="edge" data-from="%s" data-port="%s" data-to="%s">`, attr(e.From), attr(e.Port), attr(e.To))
		fmt.Fprintf(&b, `<path d="M %d %d C %d %d, %d %d, %d %d" fill="none" stroke="#555" stroke-width="1.4"%s marker-end="url(#arrow)"/>`+"\n",
			x1, y1, x1, y1+gapY/2, x2, y2-gapY/2, x2, y2, dash)
		fmt.Fprintf(&b, `<text class="count" x="%d" y="%d" font-size="11" fill="#224" text-anchor="middle" paint-order="stroke" stroke="white" stroke-width="3">%s</text></g>`+"\n",
			(x1+x2)/2, (y1+y2)/2+4, html.EscapeString(e.label()))
	}
	for _, n := range g.Nodes {
		p, ok := pos[n.ID]
		if !ok {
			continue
		}
		stroke, fill := "#3b6ea5", "#eef4fb"
		switch n.Status {
		case "failed":
			stroke, fill = "#b3261e", "#fdecea"
		case "skipped":
			stroke, fill = "#999", "#f4f4f4"
		case "succeeded":
			stroke, fill = "#2e7d32", "#edf7ee"
		}
		fmt.Fprintf(&b, `<g class="act" data-id="%s" data-status="%s">`, attr(n.ID), attr(n.Status))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="8" fill="%s" stroke="%s" stroke-width="1.5"/>`+"\n", p[0], p[1], boxW, boxH, fill, stroke)
		title := n.ID
		if n.Label != "" {
			title = n.Label
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="bold" text-anchor="middle">%s</text>`+"\n", p[0]+boxW/2, p[1]+22, html.EscapeString(truncate(title, 24)))
		sub := n.Type
		if n.Status != "" {
			sub += " · " + n.Status
		}
		fmt.Fprintf(&b, `<text class="sub" x="%d" y="%d" font-size="11" fill="#555" text-anchor="middle">%s</text></g>`+"\n", p[0]+boxW/2, p[1]+40, html.EscapeString(sub))
	}
	b.WriteString("</svg>\n")
	return b.String()
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
