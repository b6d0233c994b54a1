package compile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/compile"
)

func loadCatalog(t testing.TB) *campaign.Catalog {
	t.Helper()
	cat, diags := campaign.LoadCatalog("testdata/catalog.yaml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return cat
}

func compileSrc(t testing.TB, src string) (*compile.Program, campaign.Diagnostics) {
	t.Helper()
	c, diags := campaign.ParseCampaign("c.yaml", []byte(src))
	if diags.HasErrors() || c == nil {
		return nil, diags
	}
	p, pd := compile.Compile(c, loadCatalog(t), builtin.Registry(), map[string][]byte{"t.html": []byte("<p>hi</p>")}, builtin.Checkers())
	return p, append(diags, pd...)
}

const header = "version: 1\nid: t\ndimension: customers\n"

// Each invalid input class: the message and its position (line:col) and path.
func TestDiagnostics(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // FILE:LINE:COL path: message substring
		wantAlso  []string
	}{
		{"syntax", "version: 1\nid: [x\n", "c.yaml:1:1: syntax error: did not find expected ',' or ']'", nil},
		{"unknown type", header + "activities:\n  - { id: a, type: build-audiance }\n", "c.yaml:5:20 activities[0].type: unknown activity type \"build-audiance\" (did you mean \"build-audience\"?)", nil},
		{"duplicate id", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: a, type: build-audience }\n", "c.yaml:6:11 activities[1].id: duplicate activity id \"a\" (first used at activities[0])", nil},
		{"unknown from", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: b, type: deduplication, from: aa, by: [email] }\n", "c.yaml:6:41 activities[1].from: from \"aa\": unknown activity (did you mean \"a\"?)", nil},
		{"unknown port", header + "activities:\n  - { id: a, type: build-audience }\n  - id: s\n    type: split\n    from: a\n    segments: [{ name: vip }]\n  - { id: b, type: deduplication, from: s.vpi, by: [email] }\n",
			"activities[2].from: from \"s.vpi\": activity \"s\" has no port \"vpi\" (did you mean \"vip\"?); its ports: s.vip", nil},
		{"cycle", header + "activities:\n  - { id: a, type: deduplication, from: b, by: [email] }\n  - { id: b, type: deduplication, from: a, by: [email] }\n", "activities[0].from: cycle: a → b → a", nil},
		{"unreachable", header + "activities:\n  - { id: a, type: deduplication, from: b, by: [email] }\n  - { id: b, type: deduplication, from: a, by: [email] }\n  - { id: c, type: deduplication, from: a, by: [email] }\n",
			"c.yaml:7:5 activities[2]: activity \"c\" is unreachable", nil},
		{"missing required", header + "activities:\n  - { id: a, type: read-audience }\n", "c.yaml:5:5 activities[0]: missing required field \"audience\"", nil},
		{"unknown field", header + "activities:\n  - { id: a, type: build-audience, wehre: {} }\n", "activities[0].wehre: unknown field \"wehre\" (did you mean \"where\"?)", nil},
		{"needs from", header + "activities:\n  - { id: a, type: deduplication, by: [email] }\n", "activities[0]: deduplication \"a\" needs an inbound transition", nil},
		{"too many activities", header + "activities:\n" + strings.Repeat("  - { id: a, type: build-audience }\n", 501), "activities: a campaign has at most 500 activities; this one has 501", nil},
		{"dimension mismatch", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: b, type: build-audience, dimension: purchases }\n  - { id: c, type: combine, from: [a, b], operation: union, key: [customerId] }\n",
			"activities[2].from[1]: inputs of combine must share one dimension: a is customers rows, b is purchases rows", nil},
		{"schedule too frequent", header + "schedule: { cron: \"*/5 * * * *\" }\nactivities:\n  - { id: a, type: build-audience }\n", "c.yaml:4:19 schedule.cron: cron \"*/5 * * * *\" runs every 5m0s; schedules must be at least 15m0s apart", nil},
		{"invalid cron", header + "schedule: { cron: \"0 9 * *\" }\nactivities:\n  - { id: a, type: build-audience }\n", "schedule.cron: invalid cron expression \"0 9 * *\"", nil},
		{"every too short", header + "schedule: { every: 10m }\nactivities:\n  - { id: a, type: build-audience }\n", "schedule.every: every 10m is too frequent", nil},
		{"undeclared param", header + "activities:\n  - { id: f, type: load-file, file: { param: fil }, columns: [{ name: email }] }\n", "activities[0].file.param: parameter \"fil\" is not declared", nil},
		{"unknown column", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: b, type: deduplication, from: a, by: [emial] }\n", "activities[1].by[0]: unknown column \"emial\" in customers rows (did you mean \"email\"?)", nil},
		{"wrong value type", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: b, type: deduplication, from: a, by: [email], keep: two }\n", "activities[1].keep: expected an integer, got \"two\"", nil},
		{"onError", header + "onError: explode\nactivities:\n  - { id: a, type: build-audience }\n", "c.yaml:4:10 onError: onError must be abort, ignore or suspend", nil},
		{"bad timezone", header + "timezone: Mars/Olympus\nactivities:\n  - { id: a, type: build-audience }\n", "timezone: unknown time zone \"Mars/Olympus\"", nil},
		{"unknown table", header + "activities:\n  - { id: a, type: build-audience, dimension: custmers }\n", "activities[0].dimension: unknown table \"custmers\" (did you mean \"customers\"?)", nil},
		{"condition unknown column", header + "activities:\n  - { id: a, type: build-audience, where: { field: contry, op: eq, value: FR } }\n",
			"c.yaml:5:52 activities[0].where.field: unknown column \"contry\"", []string{"did you mean \"country\""}},
		{"condition operator for type", header + "activities:\n  - { id: a, type: build-audience, where: { field: emailOptIn, op: startsWith, value: x } }\n",
			"activities[0].where.op: operator startsWith", nil},
		{"condition between", header + "activities:\n  - { id: a, type: build-audience, where: { field: birthDate, op: between, value: [2000-01-01] } }\n",
			"activities[0].where.value: between", nil},
		{"condition value type", header + "activities:\n  - { id: a, type: build-audience, where: { field: birthDate, op: gt, value: yesterday } }\n",
			"activities[0].where.value", nil},
		{"condition unknown link", header + "activities:\n  - { id: a, type: build-audience, where: { link: purchase, exists: true } }\n",
			"activities[0].where.link: unknown link \"purchase\"", []string{"did you mean \"purchases\""}},
		{"condition undeclared param", header + "activities:\n  - { id: a, type: build-audience, where: { field: country, op: eq, value: { param: region } } }\n",
			"activities[0].where.value.param: ", []string{"region"}},
		{"liquid parse", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: m, type: email, from: a, message: { from: x@y.z, subject: \"{{ recipient.firstName \", text: hi } }\n",
			"activities[1].message.subject: template does not parse", nil},
		{"liquid unknown name", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: m, type: email, from: a, message: { from: x@y.z, subject: \"Hi {{ recipient.fristName }}\", text: hi } }\n",
			"c.yaml:6:69 activities[1].message.subject: line 1: unknown name \"recipient.fristName\" (did you mean \"recipient.firstName\"?)", nil},
		{"liquid undeclared param", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: m, type: email, from: a, message: { from: x@y.z, subject: \"{{ params.discount }}\", text: hi } }\n",
			"activities[1].message.subject", []string{"params.discount"}},
		{"test count unknown activity", header + "activities:\n  - { id: a, type: build-audience }\n  - { id: t, type: test, from: a, conditions: [{ name: big, when: { count: b, op: gt, value: 1 } }] }\n",
			"activities[1].conditions[0].when", []string{"unknown activity \"b\""}},
		{"all at once", header + "activities:\n  - { id: a, type: build-audiance }\n  - { id: b, type: deduplication, from: zz, by: [email] }\n", "unknown activity type",
			[]string{"from \"zz\": unknown activity"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := compileSrc(t, tc.src)
			got := diags.Error()
			for _, w := range append([]string{tc.want}, tc.wantAlso...) {
				if !strings.Contains(got, w) {
					t.Errorf("diagnostics lack %q; got:\n%s", w, got)
				}
			}
			if !diags.HasErrors() {
				t.Errorf("expected errors")
			}
		})
	}
}

func TestExamplesValid(t *testing.T) {
	for _, f := range []string{"winback", "import", "newsletter"} {
		_, diags := builtin.CompileFiles("../../examples/"+f+".yaml", "")
		if diags.HasErrors() {
			t.Errorf("%s: %v", f, diags)
		}
	}
}

// compileSrcDir compiles campaign bytes as if they were a file in dir.
func compileSrcDir(t testing.TB, src []byte, dir string) (*compile.Program, campaign.Diagnostics) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(f, src, 0o644); err != nil {
		t.Fatal(err)
	}
	// Template files resolve beside the campaign, inside its folder: copy
	// the example templates (a symlink out of the folder is refused).
	if err := os.CopyFS(filepath.Join(filepath.Dir(f), "templates"), os.DirFS(filepath.Join(dir, "templates"))); err != nil {
		t.Fatal(err)
	}
	return builtin.CompileFiles(f, filepath.Join(dir, "catalog.yaml"))
}
