package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"
)

// viewRoutes are the pages of proofs, reports and audiences.
func (c *Console) viewRoutes() {
	m := c.mux
	m.HandleFunc("GET /campaigns/{id}/proofs", c.page(c.proofPage))
	m.HandleFunc("POST /campaigns/{id}/proofs", c.mutation(c.renderProof))
	m.HandleFunc("GET /campaigns/{id}/proofs/html", c.page(c.proofHTML))
	m.HandleFunc("GET /campaigns/{id}/report", c.page(c.reportPage))
	m.HandleFunc("GET /reports", c.page(c.reportsPage))
	m.HandleFunc("GET /audiences", c.page(c.audiencesPage))
}

// navData is what the site's bar needs: the session's CSRF token (log out)
// and which section the page is in.
type navData struct{ CSRF, Current string }

func init() {
	funcs["nav"] = func(csrf, current string) navData { return navData{csrf, current} }
	funcs["pct"] = pct
	funcs["at"] = func(t time.Time) string { // as when, for a time that is not a pointer
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
}

// pct is n of total as a percentage with one decimal, "" when total is 0.
func pct(n, total int64) string {
	if total <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f%%", float64(n)*100/float64(total))
}

// bar is one bar of a chart.
type bar struct {
	Label string
	Value int64
	Note  string // after the value, such as a percentage
}

// barChart draws horizontal bars as inline SVG, scaled to the largest value.
// The chart repeats a table of the page, which is what assistive technology
// reads: it is aria-hidden.
func barChart(class string, bars []bar) template.HTML {
	const labelW, barW, rowH, valueW = 150, 300, 24, 140
	var top int64
	for _, b := range bars {
		top = max(top, b.Value)
	}
	h := rowH*len(bars) + 8
	var s strings.Builder
	fmt.Fprintf(&s, `<svg class="chart %s" aria-hidden="true" focusable="false" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d">`,
		template.HTMLEscapeString(class), labelW+barW+valueW, h, labelW+barW+valueW, h)
	for i, b := range bars {
		y := 4 + i*rowH
		w := 0
		if top > 0 {
			w = int(float64(barW) * float64(b.Value) / float64(top))
		}
		if b.Value > 0 && w < 2 {
			w = 2
		}
		value := fmt.Sprint(b.Value)
		if b.Note != "" {
			value += " (" + b.Note + ")"
		}
		fmt.Fprintf(&s, `<text x="%d" y="%d" text-anchor="end" font-size="12" fill="#1d2330">%s</text>`, labelW-8, y+15, template.HTMLEscapeString(b.Label))
		fmt.Fprintf(&s, `<rect x="%d" y="%d" width="%d" height="%d" rx="2" fill="#3b6ea5"><title>%s: %s</title></rect>`, labelW, y+3, w, rowH-8,
			template.HTMLEscapeString(b.Label), template.HTMLEscapeString(value))
		fmt.Fprintf(&s, `<text x="%d" y="%d" font-size="12" fill="#1d2330">%s</text>`, labelW+w+6, y+15, template.HTMLEscapeString(value))
	}
	s.WriteString(`</svg>`)
	return template.HTML(s.String()) // every text escaped above
}
