package api

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/stepwise-run/stepwise/shared/state"
)

// Markers of the generated lifecycle table in docs/api.md.
const (
	LifecycleBegin = "<!-- lifecycle table: generated from state.Lifecycle by go test ./shared/api -run TestLifecycleDocFresh -update -->"
	LifecycleEnd   = "<!-- end of the lifecycle table -->"
)

// LifecycleMarkdown renders state.Lifecycle as the Markdown table of docs/api.md.
func LifecycleMarkdown() string {
	var b strings.Builder
	b.WriteString("| from | action | to | when |\n|---|---|---|---|\n")
	for _, m := range state.Lifecycle {
		from := "any"
		if m.From != nil {
			from = joinStatuses(m.From, ", ")
		}
		action := "`" + m.Action + "`"
		if m.Event {
			action = "(" + m.Action + ")"
		}
		to := "—"
		if m.To != nil {
			to = joinStatuses(m.To, " or ")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", from, action, to, m.When)
	}
	return b.String()
}

func joinStatuses(l []state.CampaignStatus, sep string) string {
	s := make([]string, len(l))
	for i, x := range l {
		s[i] = string(x)
	}
	return strings.Join(s, sep)
}

// ReplaceLifecycle returns doc with the text between the lifecycle markers replaced by
// the generated table; an error if the markers are missing.
func ReplaceLifecycle(doc []byte) ([]byte, error) {
	i := bytes.Index(doc, []byte(LifecycleBegin))
	j := bytes.Index(doc, []byte(LifecycleEnd))
	if i < 0 || j < i {
		return nil, fmt.Errorf("the lifecycle markers are missing or out of order")
	}
	i += len(LifecycleBegin)
	out := append([]byte{}, doc[:i]...)
	out = append(out, "\n"+LifecycleMarkdown()...)
	return append(out, doc[j:]...), nil
}
