package condition

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// sqlglotCheck parses each statement with sqlglot's Trino dialect (Debian's
// python3-sqlglot, installed by infra/setup.sh) and returns the failures.
// Without it the test is skipped locally and fails in CI.
func sqlglotCheck(t *testing.T, stmts []string) []string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import sqlglot").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sqlglot is not installed (%v): .ci/run must run infra/setup.sh", err)
		}
		t.Skip("python3-sqlglot not installed: run infra/setup.sh")
	}
	in, _ := json.Marshal(stmts)
	cmd := exec.Command(py, "-c", `
import json, sys, sqlglot
for i, q in enumerate(json.load(sys.stdin)):
    try:
        if sqlglot.parse_one(q, read="trino") is None:
            print(json.dumps([i, "empty"]))
    except Exception as e:
        print(json.dumps([i, str(e).splitlines()[0]]))
`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sqlglot: %v", err)
	}
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		var r []any
		json.Unmarshal([]byte(line), &r)
		bad = append(bad, stmts[int(r[0].(float64))]+"\n  "+r[1].(string))
	}
	return bad
}

// Every condition of the semantics corpus that the Trino dialect lowers,
// inlined and placed in build-audience's SELECT, parses as Trino.
func TestTrinoSyntax(t *testing.T) {
	data, err := os.ReadFile("testdata/semantics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, diags := campaign.Parse("testdata/semantics.yaml", data)
	var sem struct {
		Now        string            `json:"now"`
		Timezone   string            `json:"timezone"`
		Params     map[string]any    `json:"params"`
		ParamTypes map[string]string `json:"paramTypes"`
		Variables  map[string]any    `json:"variables"`
		Audiences  map[string][]string
		Tables     map[string][]map[string]any
		Cases      []struct {
			Where *Condition `json:"where"`
			Want  []string   `json:"want"`
		} `json:"cases"`
	}
	d := campaign.NewDecoder(src, &diags)
	d.Decode(src.Root, "", &sem)
	now, _ := time.Parse(time.RFC3339, sem.Now)
	cat := testCatalog(t)
	customers, _ := cat.Table("customers")
	sc := SQLScope{Alias: "t", Schema: customers.Schema(), Catalog: cat,
		Relation: func(table string) (string, error) { return "sw_0123456789abcdef_" + table, nil },
		Now:      now, Location: mustLoc(sem.Timezone), ParamTypes: sem.ParamTypes, Params: sem.Params, Variables: sem.Variables,
		Audience: func(name string) (AudienceRelation, error) {
			return AudienceRelation{Relation: "sw_0123456789abcdef_aud_" + name, Key: []string{"customerId"}}, nil
		},
		Zones:   func() (string, error) { return "sw_0123456789abcdef_zones", nil },
		Dialect: Trino, Database: "stepwise"}
	// A saved audience is a Glue table of its version.
	sc.Audience = func(name string) (AudienceRelation, error) {
		return AudienceRelation{Relation: "sw_0123456789abcdef_aud_" + name + "_0a1b2c3d", Key: []string{"customerId"}}, nil
	}
	// Every date operator and part, beside the corpus (which has none).
	wheres := make([]*Condition, 0, len(sem.Cases)+8)
	for _, c := range sem.Cases {
		wheres = append(wheres, c.Where)
	}
	for _, doc := range []string{
		`{ field: birthDate, op: anniversary }`,
		`{ field: lastPurchaseAt, op: anniversary, within: 7d }`,
		`{ field: lastPurchaseAt, op: inLast, within: 30d }`,
		`{ field: birthDate, op: inNext, within: 2w }`,
		`{ field: lastPurchaseAt, part: weekday, op: in, value: [sat, sun] }`,
		`{ field: birthDate, part: year, op: lt, value: 1990 }`,
		`{ field: birthDate, part: month, op: between, value: [3, 5] }`,
		`{ field: lastPurchaseAt, part: day, op: eq, value: 29 }`,
		`{ link: purchases, exists: { field: purchasedAt, op: inLast, within: 0d } }`,
	} {
		wheres = append(wheres, mustCond(t, "where: "+doc))
	}
	var stmts []string
	for _, w := range wheres {
		where, args, err := ToSQL(w, sc)
		if err != nil {
			t.Fatal(err)
		}
		q, err := Inline(where, args)
		if err != nil {
			t.Fatal(err)
		}
		stmts = append(stmts, `SELECT "t"."customerId", "t"."email" FROM "stepwise"."sw_0123456789abcdef_customers" AS "t" WHERE `+q)
	}
	if len(stmts) < 60 {
		t.Fatalf("only %d statements", len(stmts))
	}
	// A statement that is not Trino is caught.
	if bad := sqlglotCheck(t, append(stmts, `SELECT "t"."a" FROM "t" WHERE (`)); len(bad) != 1 {
		t.Fatalf("want exactly the broken statement refused, got %d:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	t.Logf("%d statements parse as Trino", len(stmts))
}

func TestInline(t *testing.T) {
	got, err := Inline(`COALESCE("a?" = CAST(? AS VARCHAR), false) AND x < CAST(? AS BIGINT) AND y = CAST(? AS DOUBLE) AND z IS NOT DISTINCT FROM CAST(? AS BOOLEAN) AND w = CAST(? AS DATE)`,
		[]any{`O'Brien \ "q"`, int64(-3), 1e21, true, nil})
	want := `COALESCE("a?" = CAST('O''Brien \ "q"' AS VARCHAR), false) AND x < CAST('-3' AS BIGINT) AND y = CAST('1e+21' AS DOUBLE) AND z IS NOT DISTINCT FROM CAST('true' AS BOOLEAN) AND w = CAST(NULL AS DATE)`
	if err != nil || got != want {
		t.Fatalf("Inline:\n%s\n%v\nwant\n%s", got, err, want)
	}
	for _, c := range []struct {
		sql  string
		args []any
		want string
	}{
		{"x = ?", []any{"a"}, "outside CAST"},
		{"CAST(? AS VARCHAR)", nil, "more placeholders"},
		{"CAST(? AS VARCHAR)", []any{"a", "b"}, "2 arguments for 1"},
		{"CAST(? AS VARCHAR)", []any{"a\x00"}, "NUL"},
		{`"unterminated`, nil, "unterminated"},
	} {
		if _, err := Inline(c.sql, c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Inline(%q): %v, want %q", c.sql, err, c.want)
		}
	}
}
