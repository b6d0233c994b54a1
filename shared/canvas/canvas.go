// Package canvas draws a campaign's graph (activities and labelled ports) as
// Mermaid or Graphviz DOT, optionally with the counts of a run on transitions.
package canvas

import (
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Graph is what is drawn: activities in order and their transitions.
type Graph struct {
	Title string
	Nodes []Node
	Edges []Edge
}

// Node is one activity.
type Node struct {
	ID, Type, Label, Status string
}

// Edge is a transition from a port; Count is nil when unknown (no run) and
// Active is false when the port was not activated in the run.
type Edge struct {
	From, Port, To string
	Count          *int64
	Active         bool
}

// Counts gives, per activity and port, the count of a run (absent = not activated).
type Counts map[string]map[string]int64

// FromCampaign builds the graph of a decoded campaign; counts and statuses may be nil.
func FromCampaign(c *campaign.Campaign, counts Counts, status map[string]string) Graph {
	g := Graph{Title: c.ID}
	for _, a := range c.Activities {
		g.Nodes = append(g.Nodes, Node{ID: a.ID, Type: a.Type, Label: a.Label, Status: status[a.ID]})
		for _, t := range a.From {
			e := Edge{From: t.Activity, Port: t.PortOrOut(), To: a.ID}
			if counts != nil {
				if n, ok := counts[t.Activity][t.PortOrOut()]; ok {
					e.Count, e.Active = &n, true
				}
			}
			g.Edges = append(g.Edges, e)
		}
	}
	return g
}

func (e Edge) label() string {
	l := e.Port
	if e.Count != nil {
		l += fmt.Sprintf(": %d", *e.Count)
	} else if e.Active {
		l += ": ?"
	}
	return l
}

func (n Node) text() string {
	s := n.ID + "\\n" + n.Type
	if n.Label != "" {
		s = n.Label + "\\n" + n.ID + " · " + n.Type
	}
	if n.Status != "" {
		s += "\\n[" + n.Status + "]"
	}
	return s
}

// Mermaid renders a Mermaid flowchart, left to right as the SVG.
func (g Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %s[\"%s\"]\n", mermaidID(n.ID), strings.ReplaceAll(escapeQuotes(n.text()), "\\n", "<br/>"))
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Count == nil && g.hasRun() {
			arrow = "-.->"
		}
		fmt.Fprintf(&b, "  %s %s|%s| %s\n", mermaidID(e.From), arrow, escapeQuotes(e.label()), mermaidID(e.To))
	}
	return b.String()
}

// DOT renders a Graphviz digraph, left to right as the SVG.
func (g Graph) DOT() string {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %q {\n  rankdir=LR;\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n", g.Title)
	for _, n := range g.Nodes {
		fmt.Fprintf(&b, "  %q [label=\"%s\"%s];\n", n.ID, escapeQuotes(n.text()), statusStyle(n.Status))
	}
	for _, e := range g.Edges {
		style := ""
		if e.Count == nil && g.hasRun() {
			style = ", style=dashed"
		}
		fmt.Fprintf(&b, "  %q -> %q [label=\"%s\"%s];\n", e.From, e.To, escapeQuotes(e.label()), style)
	}
	b.WriteString("}\n")
	return b.String()
}

func (g Graph) hasRun() bool {
	for _, e := range g.Edges {
		if e.Count != nil {
			return true
		}
	}
	for _, n := range g.Nodes {
		if n.Status != "" {
			return true
		}
	}
	return false
}

func statusStyle(s string) string {
	switch s {
	case "failed":
		return ", color=red"
	case "skipped":
		return ", style=\"rounded,dashed\", fontcolor=gray40"
	case "succeeded":
		return ", color=darkgreen"
	}
	return ""
}

func mermaidID(id string) string { return "a_" + id }

func escapeQuotes(s string) string { return strings.ReplaceAll(s, `"`, `'`) }
