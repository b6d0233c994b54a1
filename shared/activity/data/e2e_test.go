package data_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// examples/import.yaml end to end through the local executor, on generated
// sample data and examples/files/leads.csv, in test and live mode. Expected
// counts come from SQL written here over the raw files.
func TestImportExampleEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	ctx := context.Background()
	dir := t.TempDir()
	if err := sampledata.Generate(ctx, filepath.Join(dir, "data"), sampledata.Options{Customers: 1000}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"import.yaml", "catalog.yaml", "files/leads.csv"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h := newHome(t)
	customers := dataset.QuoteLiteral(filepath.Join(dir, "data", "customers.parquet"))
	leads := "read_csv(" + dataset.QuoteLiteral(filepath.Join(dir, "files", "leads.csv")) + ", all_varchar = true, header = true)"
	// Lines load-file keeps: an email, and points empty or a 64-bit integer.
	kept := "SELECT row_number() OVER () AS line, lower(email) AS email FROM " + leads +
		" WHERE trim(coalesce(email, '')) <> '' AND (points IS NULL OR regexp_full_match(points, '[+-]?[0-9]+') AND TRY_CAST(points AS BIGINT) IS NOT NULL)"
	// Matches: kept lines whose email is the email of exactly one customer.
	matches := "SELECT k.line, min(c.customerId) AS customerId FROM (" + kept + ") k JOIN " + customers +
		" c ON c.email = k.email GROUP BY k.line HAVING count(*) = 1"
	want := map[string]int64{}
	for name, q := range map[string]string{
		"lines":      "SELECT count(*) FROM " + leads,
		"kept":       "SELECT count(*) FROM (" + kept + ")",
		"matched":    "SELECT count(*) FROM (" + matches + ")",
		"optIn":      "SELECT count(*) FILTER (WHERE emailOptIn) FROM " + customers,
		"optInAfter": "SELECT count(*) FILTER (WHERE emailOptIn OR customerId IN (SELECT customerId FROM (" + matches + "))) FROM " + customers,
		"rows":       "SELECT count(*) FROM " + customers,
	} {
		row, err := h.engine().QueryRow(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want[name] = row[0].(int64)
	}
	t.Logf("independent counts: %v", want)
	if want["matched"] == 0 || want["kept"] == want["lines"] || want["matched"] == want["kept"] || want["optInAfter"] == want["optIn"] {
		t.Fatalf("the fixture should exercise rejects, matches and non-matches: %v", want)
	}

	l, err := executor.Open(filepath.Join(dir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, diags := builtin.CompileFiles(filepath.Join(dir, "import.yaml"), "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, test := range []bool{true, false} {
		sum, err := l.Run(ctx, p, executor.Options{Test: test, Wait: interp.WaitSkip})
		if err != nil {
			t.Fatalf("test=%v: %v", test, err)
		}
		if sum.Status != "succeeded" {
			t.Fatalf("test=%v: %+v", test, sum)
		}
		a := sum.Activities
		check := func(what string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("test=%v %s: %d, want %d", test, what, got, want)
			}
		}
		check("fileRows.out", a["fileRows"].Ports["out"], want["kept"])
		check("fileRows.rejects", a["fileRows"].Ports["rejects"], want["lines"]-want["kept"])
		check("known.out", a["known"].Ports["out"], want["matched"])
		check("known.unmatched", a["known"].Ports["unmatched"], want["kept"]-want["matched"])
		check("upgrade.out", a["upgrade"].Ports["out"], want["matched"])
		check("upgrade.rejects", a["upgrade"].Ports["rejects"], 0)
		v, err := tablelog.New(l.Blob, nil).CurrentTable(ctx, "customers")
		if test {
			if err == nil {
				t.Errorf("test mode committed %+v", v)
			}
			continue
		}
		if err != nil || v.Version != 1 {
			t.Fatalf("live: table version %+v %v", v, err)
		}
		eng, err := dataset.New(dataset.Options{Store: l.Blob, WorkDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		defer eng.Close()
		if _, err := eng.StageDataset(ctx, "v1", dataset.Ref(v.Ref)); err != nil {
			t.Fatal(err)
		}
		row, err := eng.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE emailOptIn), count(DISTINCT customerId) FROM v1")
		if err != nil {
			t.Fatal(err)
		}
		check("rows after", row[0].(int64), want["rows"])
		check("opted in after", row[1].(int64), want["optInAfter"])
		check("distinct keys after", row[2].(int64), want["rows"])
	}
}
