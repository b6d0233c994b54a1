package athenalocal_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/local/athenalocal"
)

// TestMain checks, after the package's tests, that every statement the
// stand-in ran is an UNLOAD of a SELECT that Debian's python3-sqlglot
// parses as Trino (installed by infra/setup.sh; without it the check is
// skipped locally and fails under CI).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && len(ran) > 0 {
		if err := checkTrino(ran); err != nil {
			fmt.Fprintln(os.Stderr, "Trino syntax:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func checkTrino(stmts []string) error {
	const py = "/usr/bin/python3"
	if exec.Command(py, "-c", "import sqlglot").Run() != nil {
		if os.Getenv("CI") != "" {
			return fmt.Errorf("python3-sqlglot is not installed: .ci/run must run infra/setup.sh")
		}
		fmt.Fprintln(os.Stderr, "athenalocal: python3-sqlglot not installed; Trino syntax not checked (run infra/setup.sh)")
		return nil
	}
	// Each statement to parse and the root sqlglot must read: the SELECT of
	// an UNLOAD (sqlglot reads no UNLOAD; its wrapper is fixed text), a
	// whole MERGE, DELETE or INSERT.
	var sels [][2]string
	for _, q := range stmts {
		if m := athenalocal.Unload.FindStringSubmatch(q); m != nil {
			sels = append(sels, [2]string{m[1], ""})
		} else if m := athenalocal.DML.FindStringSubmatch(q); m != nil {
			sels = append(sels, [2]string{q, strings.Fields(m[1])[0]})
		}
		// else: the failure test's refused statement
	}
	in, _ := json.Marshal(sels)
	cmd := exec.Command(py, "-c", `
import json, sys, sqlglot
for q, root in json.load(sys.stdin):
    try:
        e = sqlglot.parse_one(q, read="trino")
        if root and type(e).__name__.upper() != root:
            print(q[:300], "-> read as", type(e).__name__)
    except Exception as e:
        print(q[:300], "->", str(e).splitlines()[0])
`)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return fmt.Errorf("%s", s)
	}
	fmt.Fprintf(os.Stderr, "athenalocal: %d statements parse as Trino\n", len(sels))
	return nil
}

func TestCheckTrinoRefuses(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import sqlglot").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("sqlglot is not installed (%v): .ci/run must run infra/setup.sh", err)
		}
		t.Skip("python3-sqlglot not installed: run infra/setup.sh")
	}
	bad := "UNLOAD (SELECT \"t\".\"a\" FROM \"t\" WHERE () TO 's3://stepwise-local/k/' WITH (format = 'PARQUET', compression = 'SNAPPY')"
	if err := checkTrino([]string{bad}); err == nil {
		t.Fatal("a broken SELECT passed")
	}
	merge := `MERGE INTO "db"."t" AS b USING (SELECT 1 AS x) AS c ON b."k" = c.x WHEN MATCHED THEN UPDATE SET "v" = (`
	if err := checkTrino([]string{merge}); err == nil {
		t.Fatal("a broken MERGE passed")
	}
}
