package campaign_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// laughs is a billion-laughs document: levels of aliases, each repeating the
// previous one ten times.
func laughs(levels int) string {
	var b strings.Builder
	b.WriteString("version: 1\nid: x\nvariables:\n  l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString("activities: []\n")
	return b.String()
}

// nested nests a condition n levels deep in `not`, one mapping a level.
func nested(n int) string {
	return "version: 1\nid: x\nactivities:\n  - id: a\n    type: build-audience\n    where: " +
		strings.Repeat("{ not: ", n) + "{ field: f, op: eq, value: 1 }" + strings.Repeat(" }", n) + "\n"
}

// Documents over the limits are refused before decoding, with one positioned
// diagnostic; documents at the limits decode.
func TestDocumentLimits(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // FILE:LINE:COL path: message substring; "" means valid
	}{
		{"recursive alias", "version: 1\nid: x\nvariables:\n  v: &a [*a]\nactivities: []\n",
			"c.yaml:4:10 variables.v[0]: recursive alias *a: the anchor &a contains itself"},
		{"recursive alias in a mapping", "version: 1\nid: x\nactivities:\n  - &a { id: a, type: build-audience, where: { not: *a } }\n",
			"c.yaml:4:53 activities[0].where.not: recursive alias *a"},
		{"billion laughs", laughs(9), "c.yaml:7:47 variables.l3[7]: aliases expand this document of 129 nodes by more than 10000 nodes (here, *l2 adds 1110)"},
		{"merge key bomb", "version: 1\nid: x\nvariables:\n  a: &a { k: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }\n  b: &b { <<: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a], x: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a] }\n" +
			"  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nactivities: []\n",
			"aliases expand this document of"},
		{"anchors reused", "version: 1\nid: x\nactivities:\n  - { id: a, type: build-audience, where: &vip { all: [{ field: tier, op: eq, value: gold }, { not: { field: country, op: in, value: [FR, DE, IT] } }] } }\n" +
			reused(40), ""},
		{"deep condition", nested(campaign.MaxDepth - 3), "c.yaml:6:439 activities[0].where" + strings.Repeat(".not", campaign.MaxDepth-3) + ": nested more than 64 levels deep"},
		{"deepest condition", nested(campaign.MaxDepth - 4), ""},
		{"deep block lists", "version: 1\nid: x\nvariables:\n  v:\n" + blockLists(campaign.MaxDepth), "nested more than 64 levels deep"},
		{"deep flow lists", "version: 1\nid: x\nvariables: { v: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + " }\nactivities: []\n", "c.yaml:3:79 variables.v" + strings.Repeat("[0]", 62) + ": nested more than 64"},
		{"alias deepens", "version: 1\nid: x\nvariables:\n  a: &a " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n  b: " + strings.Repeat("[", 30) + "*a" + strings.Repeat("]", 30) + "\nactivities: []\n",
			"c.yaml:5:36 variables.b" + strings.Repeat("[0]", 30) + ": the alias *a nests 72 levels deep here"},
		{"too large", "version: 1\nid: x\nactivities: []\n#" + strings.Repeat("x", campaign.MaxCampaignBytes), "c.yaml:1:1: the campaign is larger than a campaign may be: at most 1048576 bytes (1 MiB)"},
		{"largest", "version: 1\nid: x\nactivities: []\n#" + strings.Repeat("x", campaign.MaxCampaignBytes-len("version: 1\nid: x\nactivities: []\n#")), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := campaign.ParseCampaign("c.yaml", []byte(tc.src))
			got := diags.Error()
			if tc.want == "" {
				if diags.HasErrors() || c == nil {
					t.Fatalf("want valid, got:\n%s", got)
				}
				return
			}
			if c != nil || len(diags) != 1 || !strings.Contains(got, tc.want) {
				t.Fatalf("want one diagnostic containing %q and no campaign; got campaign %v:\n%.2000s", tc.want, c != nil, got)
			}
		})
	}
}

func reused(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - { id: b%d, type: build-audience, where: *vip }\n", i)
	}
	return b.String()
}

func blockLists(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(strings.Repeat("  ", i+2) + "-\n")
	}
	b.WriteString(strings.Repeat("  ", n+2) + "- x\nactivities: []\n")
	return b.String()
}

// Catalogs have their own size bound and the same shape limits.
func TestCatalogLimits(t *testing.T) {
	_, diags := campaign.ParseCatalog("k.yaml", []byte("version: 1\ntables: &t [*t]\n"))
	if got := diags.Error(); !strings.Contains(got, "k.yaml:2:13 tables[0]: recursive alias *t") {
		t.Errorf("recursive alias: %s", got)
	}
	_, diags = campaign.ParseCatalog("k.yaml", []byte("version: 1\ntables: []\n#"+strings.Repeat("x", campaign.MaxCatalogBytes)))
	if got := diags.Error(); !strings.Contains(got, "the catalog is larger than a catalog may be: at most 2097152 bytes (2 MiB)") {
		t.Errorf("size: %s", got)
	}
}

// Positions are found by walking the document: through aliases, into keys
// that hold dots, and up to the closest ancestor of a path not in the file.
func TestPositions(t *testing.T) {
	src, diags := campaign.Parse("p.yaml", []byte("a:\n  b.c:\n    - x\n    - &y { z: 1 }\n  d: *y\nlong: { k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9, ka: a, kb: b, kc: c, kd: d, ke: e, kf: f, kg: g }\ndup: 1\ndup: 2\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tc := range []struct{ path, pos, key string }{
		{"", "p.yaml:1:1", "p.yaml:1:1"},
		{"a.b.c[1].z", "p.yaml:4:15", "p.yaml:4:12"},
		{"a.b.c[0]", "p.yaml:3:7", "p.yaml:3:7"},
		{"a.d.z", "p.yaml:4:15", "p.yaml:4:12"},
		{"a.d", "p.yaml:4:7", "p.yaml:5:3"},
		{"a.b.c[7].q", "p.yaml:3:5", "p.yaml:3:5"},
		{"a.nope", "p.yaml:2:3", "p.yaml:2:3"},
		{"long.kg", "p.yaml:6:125", "p.yaml:6:121"},
		{"dup", "p.yaml:8:6", "p.yaml:8:1"},
	} {
		if got := src.PosOf(tc.path).String(); got != tc.pos {
			t.Errorf("PosOf(%q) = %s, want %s", tc.path, got, tc.pos)
		}
		if got := src.KeyPos(tc.path).String(); got != tc.key {
			t.Errorf("KeyPos(%q) = %s, want %s", tc.path, got, tc.key)
		}
	}
}

// A file with more problems than MaxDiagnostics reports that many and a note.
func TestDiagnosticsCap(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nid: x\nactivities: []\n")
	for i := 0; i < 3*campaign.MaxDiagnostics; i++ {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	_, diags := campaign.ParseCampaign("c.yaml", []byte(b.String()))
	if len(diags) != campaign.MaxDiagnostics+1 {
		t.Fatalf("%d diagnostics, want %d", len(diags), campaign.MaxDiagnostics+1)
	}
	if got := diags[0].String(); got != "c.yaml:1:1: more than 1000 problems: the rest are not reported; fix these first" {
		t.Errorf("first (sorted) diagnostic: %s", got)
	}
}

// Parameter and variable names are named in run-state paths ($.run.params.NAME)
// and templates: "a.b" validated and then read params.a.b at run time.
func TestParameterAndVariableNames(t *testing.T) {
	_, diags := campaign.ParseCampaign("c.yaml", []byte("version: 1\nid: x\nparameters:\n  a.b: { type: integer }\n  ok_1: { type: integer }\nvariables: { \"x'; --\": 1, fine: 2 }\nactivities: []\n"))
	want := "c.yaml:4:8 parameters.a.b: parameter name \"a.b\" must match [a-zA-Z0-9_]{1,64}: templates and run state name it\n" +
		"c.yaml:6:24 variables.x'; --: variable name \"x'; --\" must match [a-zA-Z0-9_]{1,64}: templates and run state name it"
	if got := diags.Error(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
