package console

import (
	"reflect"
	"strings"
	"testing"
)

// The diff is by line with context around each change, numbered on both sides.
func TestLineDiff(t *testing.T) {
	old := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	new := "a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nk\n"
	hs := lineDiff(old, new, 1)
	if len(hs) != 2 {
		t.Fatalf("hunks: %+v", hs)
	}
	want := []diffLine{{" ", 2, 2, "b"}, {"-", 3, 0, "c"}, {"+", 0, 3, "C"}, {" ", 4, 4, "d"}}
	if hs[0].Header != "@@ -2,3 +2,3 @@" || !reflect.DeepEqual(hs[0].Lines, want) {
		t.Errorf("first hunk: %+v", hs[0])
	}
	want = []diffLine{{" ", 10, 10, "j"}, {"+", 0, 11, "k"}}
	if hs[1].Header != "@@ -10 +10,2 @@" || !reflect.DeepEqual(hs[1].Lines, want) {
		t.Errorf("second hunk: %+v", hs[1])
	}
	if hs := lineDiff(old, old, 3); len(hs) != 0 {
		t.Errorf("no change, hunks %+v", hs)
	}
	// CRLF text and a missing final newline do not count as changes.
	if hs := lineDiff(old, strings.ReplaceAll(strings.TrimSuffix(old, "\n"), "\n", "\r\n"), 3); len(hs) != 0 {
		t.Errorf("line endings: %+v", hs)
	}
	// Blank lines repeated more than a heuristic likes are lines like any other.
	big := strings.Repeat("x: 1\n\n", 150)
	hs = lineDiff(big, big+"y: 2\n", 0)
	if len(hs) != 1 || len(hs[0].Lines) != 1 || hs[0].Lines[0] != (diffLine{"+", 0, 301, "y: 2"}) {
		t.Errorf("appended line: %+v", hs)
	}
}

// A document draws when it parses, and says why not when it does not.
func TestDrawDocument(t *testing.T) {
	d := draw("version: 1\nid: a\nactivities:\n  - { id: first, type: build-audience }\n  - { id: second, type: end, from: first }\n")
	if d.Activities != 2 || !strings.Contains(d.SVG, `data-id="second"`) || d.Error != "" {
		t.Errorf("drawn: %+v", d)
	}
	d = draw("version: 1\nid: a\nactivities: [\n")
	if d.SVG != "" || !strings.Contains(d.Error, "draft.yaml:") {
		t.Errorf("broken YAML: %+v", d)
	}
}
