package condition

import (
	"fmt"
	"strings"
	"testing"
)

// chain nests n aggregate links, customers → purchases → customer → …
func chain(n int) string {
	s := "{ field: country, op: eq, value: FR }"
	if n%2 == 1 {
		s = "{ field: amount, op: gt, value: 1 }"
	}
	for i := n - 1; i >= 0; i-- {
		s = fmt.Sprintf("{ link: %s, aggregate: count, op: gt, value: 0, where: %s }", []string{"purchases", "customer"}[i%2], s)
	}
	return "where: " + s
}

// Links nest at most MaxLinkDepth deep and number at most MaxLinks: the run
// time of their subqueries grows steeply beyond (see MaxLinkDepth).
func TestLinkLimits(t *testing.T) {
	if d := runCheck(t, chain(MaxLinkDepth), populationEnv(t)); d.HasErrors() {
		t.Errorf("%d nested links: %v", MaxLinkDepth, d)
	}
	d := runCheck(t, chain(MaxLinkDepth+1), populationEnv(t))
	want := diagWant{path: "where" + strings.Repeat(".where", MaxLinkDepth) + ".link", msg: "links nest at most 8 deep in a condition; this one is 9 deep"}
	if len(d) != 1 || !hasDiag(d, want) {
		t.Errorf("%d nested links: want %+v, got %v", MaxLinkDepth+1, want, d)
	}
	wide := func(n int) string {
		return "where: { all: [" + strings.Repeat("{ link: purchases, exists: true }, ", n-1) + "{ link: purchases, exists: true }] }"
	}
	if d := runCheck(t, wide(MaxLinks), populationEnv(t)); d.HasErrors() {
		t.Errorf("%d links: %v", MaxLinks, d)
	}
	d = runCheck(t, wide(MaxLinks+10), populationEnv(t))
	want = diagWant{path: fmt.Sprintf("where.all[%d].link", MaxLinks), msg: "a condition follows at most 64 links"}
	if len(d) != 1 || !hasDiag(d, want) {
		t.Errorf("%d links: want %+v once, got %v", MaxLinks+10, want, d)
	}
}
