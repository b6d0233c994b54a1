package examples_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/sampledata"

	"github.com/stepwise-run/stepwise/examples"
	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/asl/interp"
	"github.com/stepwise-run/stepwise/shared/asl/sfnlocal"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/executor"
	"github.com/stepwise-run/stepwise/shared/runner"
)

// now is the fixed instant of every run here, so relative dates are known.
var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// workspace lays out the examples with generated sample data beside them.
func workspace(t *testing.T) string {
	t.Helper()
	return workspaceAt(t, now)
}

// workspaceAt is workspace with sample data generated on the day of today.
func workspaceAt(t *testing.T, today time.Time) string {
	t.Helper()
	dir := t.TempDir()
	err := fs.WalkDir(examples.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, path), 0o755)
		}
		b, _ := examples.FS.ReadFile(path)
		return os.WriteFile(filepath.Join(dir, path), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sampledata.Generate(context.Background(), filepath.Join(dir, "data"), sampledata.Options{Customers: 3000, Today: today}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func run(t *testing.T, dir, name string, test bool) (*compile.Program, *runner.Summary) {
	t.Helper()
	return runAt(t, dir, name, test, now)
}

// runAt is run with the clock at at.
func runAt(t *testing.T, dir, name string, test bool, at time.Time) (*compile.Program, *runner.Summary) {
	t.Helper()
	p, diags := builtin.CompileFiles(filepath.Join(dir, name+".yaml"), "")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	l, err := executor.Open(filepath.Join(dir, "home-"+name))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Env.Clock = func() time.Time { return at }
	sum, err := l.Run(context.Background(), p, executor.Options{Test: test, Wait: interp.WaitSkip})
	if err != nil {
		t.Fatalf("%s (test=%v): %v", name, test, err)
	}
	return p, sum
}

// sql returns one integer computed by DuckDB over the sample files.
func sql(t *testing.T, dir, query string, args ...any) int64 {
	t.Helper()
	e, err := dataset.New(dataset.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, tbl := range []string{"customers", "purchases", "stores"} {
		if err := e.Exec(context.Background(), "CREATE OR REPLACE VIEW "+tbl+" AS SELECT * FROM read_parquet("+dataset.QuoteLiteral(filepath.Join(dir, "data", tbl+".parquet"))+")"); err != nil {
			t.Fatal(err)
		}
	}
	row, err := e.QueryRow(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, query)
	}
	switch v := row[0].(type) {
	case int64:
		return v
	case float64:
		return int64(v)
	}
	t.Fatalf("unexpected %T", row[0])
	return 0
}

func port(s *runner.Summary, act, p string) int64 { return s.Activities[act].Ports[p] }

// The win-back example in test and live mode: counts equal independent SQL.
func TestWinback(t *testing.T) {
	dir := workspace(t)
	paris, _ := time.LoadLocation("Europe/Paris")
	ago90 := now.In(paris).AddDate(0, 0, -90)
	ago365 := now.In(paris).AddDate(0, 0, -365)
	lapsedSQL := `SELECT c.* FROM customers c WHERE c.lastPurchaseAt < ? AND c.emailOptIn
		AND (SELECT sum(amount) FROM purchases p WHERE p.customerId = c.customerId) >= 100`
	lapsed := sql(t, dir, "SELECT count(*) FROM ("+lapsedSQL+")", ago90)
	groups := sql(t, dir, "SELECT count(DISTINCT email) + (count(*) FILTER (WHERE email IS NULL) > 0)::BIGINT FROM ("+lapsedSQL+")", ago90)
	// Per email, the kept row has the highest spend365 (ties by key).
	kept := `WITH l AS (` + lapsedSQL + `), e AS (
		SELECT l.*, (SELECT sum(amount) FROM purchases p WHERE p.customerId = l.customerId AND p.purchasedAt > ?) AS spend365,
		            (SELECT count(*) FROM purchases p WHERE p.customerId = l.customerId AND p.purchasedAt > ?) AS orders365 FROM l)
		SELECT * FROM e QUALIFY row_number() OVER (PARTITION BY email ORDER BY spend365 DESC NULLS LAST, customerId) = 1`
	vip := sql(t, dir, "SELECT least(count(*), 1000) FROM ("+kept+") WHERE spend365 >= 500", ago90, ago365, ago365)
	regular := sql(t, dir, `WITH k AS (`+kept+`), v AS (SELECT customerId FROM k WHERE spend365 >= 500 ORDER BY spend365 DESC, customerId LIMIT 1000)
		SELECT count(*) FROM k WHERE orders365 >= 1 AND customerId NOT IN (SELECT customerId FROM v)`, ago90, ago365, ago365)
	remaining := groups - vip - regular
	sample := remaining * 10 / 100

	for _, test := range []bool{true, false} {
		p, s := run(t, dir, "winback", test)
		if s.Status != "succeeded" {
			t.Fatalf("test=%v: %+v", test, s)
		}
		check := func(name string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("test=%v %s = %d, want %d", test, name, got, want)
			}
		}
		check("lapsed.out", port(s, "lapsed", "out"), lapsed)
		check("enriched.out", port(s, "enriched", "out"), lapsed)
		check("onePerEmail.out", port(s, "onePerEmail", "out"), groups)
		check("onePerEmail.duplicates", port(s, "onePerEmail", "duplicates"), lapsed-groups)
		check("byValue.vip", port(s, "byValue", "vip"), vip)
		check("byValue.regular", port(s, "byValue", "regular"), regular)
		check("byValue.sample", port(s, "byValue", "sample"), sample)
		check("byValue.others", port(s, "byValue", "others"), remaining-sample)
		check("sendVip out+skipped", port(s, "sendVip", "out")+port(s, "sendVip", "skipped"), vip)
		check("sendRegular out+skipped", port(s, "sendRegular", "out")+port(s, "sendRegular", "skipped"), regular)
		check("saveVips.out", port(s, "saveVips", "out"), vip)
		if len(p.Order) != len(s.Activities) {
			t.Errorf("test=%v: %d activities recorded, want %d", test, len(s.Activities), len(p.Order))
		}
	}
}

// The benchmark's reference campaign (bench/reference runs it at 1M and 10M):
// every transition equals independent SQL, in test and live mode.
func TestReference(t *testing.T) {
	dir := workspace(t)
	sel := `WITH spend AS (
		SELECT customerId, sum(amount) AS total,
		       count(*) FILTER (WHERE purchasedAt > $2) AS orders365,
		       sum(amount) FILTER (WHERE purchasedAt > $2) AS spend365
		FROM purchases GROUP BY customerId),
	lapsed AS (SELECT c.*, coalesce(p.orders365, 0) AS orders365, p.spend365 FROM customers c JOIN spend p USING (customerId)
		WHERE c.lastPurchaseAt < $1 AND p.total >= 50),
	dedup AS (SELECT * FROM lapsed QUALIFY row_number() OVER (PARTITION BY email ORDER BY spend365 DESC NULLS LAST, customerId) = 1),
	vip AS (SELECT * FROM dedup WHERE spend365 >= 1000 ORDER BY spend365 DESC NULLS LAST, customerId LIMIT 50000),
	active AS (SELECT * FROM dedup WHERE orders365 >= 2 AND customerId NOT IN (SELECT customerId FROM vip)),
	remaining AS (SELECT * FROM dedup WHERE customerId NOT IN (SELECT customerId FROM vip UNION ALL SELECT customerId FROM active)),
	rest AS (SELECT * FROM remaining ORDER BY customerId LIMIT (SELECT floor(count(*) * 0.5) FROM remaining)),
	sendable AS (SELECT * FROM dedup WHERE trim(coalesce(email, '')) <> '' AND emailOptIn)
	`
	count := func(q string) int64 {
		return sql(t, dir, sel+q, now.AddDate(0, 0, -30), now.AddDate(0, 0, -365))
	}
	want := map[string]int64{
		"lapsed.out":       count("SELECT count(*) FROM lapsed"),
		"enriched.out":     count("SELECT count(*) FROM lapsed"),
		"onePerEmail.out":  count("SELECT count(*) FROM dedup"),
		"bySpend.vip":      count("SELECT count(*) FROM vip"),
		"bySpend.active":   count("SELECT count(*) FROM active"),
		"bySpend.rest":     count("SELECT count(*) FROM rest"),
		"bySpend.others":   count("SELECT count(*) FROM remaining WHERE customerId NOT IN (SELECT customerId FROM rest)"),
		"mailVip.out":      count("SELECT count(*) FROM vip JOIN sendable USING (customerId)"),
		"mailActive.out":   count("SELECT count(*) FROM active JOIN sendable USING (customerId)"),
		"mailRest.out":     count("SELECT count(*) FROM rest JOIN sendable USING (customerId)"),
		"mailVip.skipped":  count("SELECT count(*) FROM vip WHERE customerId NOT IN (SELECT customerId FROM sendable)"),
		"mailRest.skipped": count("SELECT count(*) FROM rest WHERE customerId NOT IN (SELECT customerId FROM sendable)"),
	}
	if want["bySpend.vip"] == 0 || want["mailActive.out"] == 0 {
		t.Fatalf("the sample data should reach every segment: %v", want)
	}
	for _, test := range []bool{true, false} {
		_, s := run(t, dir, "reference", test)
		if s.Status != "succeeded" {
			t.Fatalf("test=%v: %+v", test, s)
		}
		for k, w := range want {
			act, p := k[:len(k)-len(filepath.Ext(k))], filepath.Ext(k)[1:]
			if got := port(s, act, p); got != w {
				t.Errorf("test=%v %s = %d, want %d", test, k, got, w)
			}
		}
	}
}

// The newsletter example: test, fork, two channels, and-join, wait, end.
func TestNewsletter(t *testing.T) {
	dir := workspace(t)
	subscribers := sql(t, dir, "SELECT count(*) FROM customers WHERE emailOptIn")
	app := sql(t, dir, "SELECT count(*) FROM customers WHERE coalesce(length(pushToken), 0) > 0")
	for _, test := range []bool{true, false} {
		_, s := run(t, dir, "newsletter", test)
		if s.Status != "succeeded" {
			t.Fatalf("%+v", s)
		}
		for _, c := range []struct {
			name      string
			got, want int64
		}{
			{"subscribers.out", port(s, "subscribers", "out"), subscribers},
			{"enough.big", port(s, "enough", "big"), subscribers},
			{"fan.mail", port(s, "fan", "mail"), subscribers},
			{"appUsers.out", port(s, "appUsers", "out"), app},
			{"sendMail out+skipped", port(s, "sendMail", "out") + port(s, "sendMail", "skipped"), subscribers},
			{"sendPush out+skipped", port(s, "sendPush", "out") + port(s, "sendPush", "skipped"), app},
			{"both.out", port(s, "both", "out"), port(s, "sendMail", "out")},
		} {
			if c.got != c.want {
				t.Errorf("test=%v %s = %d, want %d", test, c.name, c.got, c.want)
			}
		}
		if _, ok := s.Activities["enough"].Ports["else"]; ok || s.Activities["tooSmall"].Status != "skipped" {
			t.Errorf("test=%v: the else branch must not run: %+v", test, s.Activities["tooSmall"])
		}
	}
}

// The import example: rejects, unmatched and updates as hand-counted in
// files/leads.csv (its emails belong to sample customers 1-29).
func TestImport(t *testing.T) {
	dir := workspace(t)
	for _, test := range []bool{true, false} {
		_, s := run(t, dir, "import", test)
		if s.Status != "succeeded" {
			t.Fatalf("%+v", s)
		}
		want := map[string]int64{"fileRows.out": 24, "fileRows.rejects": 4, "known.out": 21, "known.unmatched": 3, "upgrade.out": 21, "upgrade.rejects": 0, "reportUnknown.out": 3}
		for k, w := range want {
			act, p := k[:len(k)-len(filepath.Ext(k))], filepath.Ext(k)[1:]
			if got := port(s, act, p); got != w {
				t.Errorf("test=%v %s = %d, want %d", test, k, got, w)
			}
		}
	}
}

// Every compiled example runs the same in the Go interpreter and in
// aws-local-stepfunctions, with the same in-process handlers.
func TestCrossCheckExamples(t *testing.T) {
	dir := workspace(t)
	arn := regexp.MustCompile(`\$\{([A-Za-z0-9]+)FunctionArn\}`)
	for _, name := range []string{"winback", "import", "newsletter", "reference", "birthday"} {
		p, diags := builtin.CompileFiles(filepath.Join(dir, name+".yaml"), "")
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		def := arn.ReplaceAll(p.JSON, []byte("arn:aws:lambda:us-east-1:123456789012:function:stepwise-$1"))
		input, _ := json.Marshal(map[string]any{"test": true, "runId": "0193a5b0-0000-7000-8000-00000000000" + string(rune('1'+len(name)%9))})
		goRes, nodeRes := sfnlocal.CrossCheck(t, def, input, func() interp.Invoker {
			l, err := executor.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			l.Env.Clock = func() time.Time { return now }
			if err := l.Bundles.Publish(context.Background(), p.Campaign.ID, p.Bundle); err != nil {
				t.Fatal(err)
			}
			return l.Runner
		})
		if goRes.Error != "" || nodeRes.Error != "" {
			t.Errorf("%s: go %s %s / node %s %s", name, goRes.Error, goRes.Cause, nodeRes.Error, nodeRes.Cause)
		}
	}
}

// The birthday example: each customer's today in their own time zone, 29
// February greeted on 28 February in a year without it; the counts equal SQL
// written independently of the compiler (birthday = this year's date of the
// birth date, 29 February moved to the 28th when February has 28 days).
func TestBirthday(t *testing.T) {
	for _, at := range []time.Time{
		now,
		// 23:30 in London, 00:30 on the 28th in Paris and Tokyo: Europe's
		// 29 February birthdays, but not London's or America's, are today.
		// (An instant before the machine's today: the runner's deadlines.)
		time.Date(2026, 2, 27, 23, 30, 0, 0, time.UTC),
	} {
		dir := workspaceAt(t, at)
		local := `WITH c AS (SELECT *, CAST(timezone(timezone, ?::TIMESTAMPTZ) AS DATE) AS today,
				CAST(timezone(timezone, lastPurchaseAt) AS DATE) AS lastDay FROM customers),
			b AS (SELECT * FROM c WHERE emailOptIn AND birthDate < today AND today = make_date(year(today), month(birthDate),
				CASE WHEN month(birthDate) = 2 AND day(birthDate) = 29 AND day(last_day(make_date(year(today), 2, 1))) = 28 THEN 28 ELSE day(birthDate) END))`
		count := func(where string) int64 {
			return sql(t, dir, local+" SELECT count(*) FROM b WHERE "+where, at.Format(time.RFC3339))
		}
		birthdays := count("true")
		recent := count("lastDay BETWEEN today - 90 AND today")
		weekend := count("NOT coalesce(lastDay BETWEEN today - 90 AND today, false) AND isodow(lastDay) IN (6, 7)")
		leapDay := count("month(birthDate) = 2 AND day(birthDate) = 29")
		t.Logf("%s: %d birthdays, %d recent, %d weekend, %d born on 29 February; %d in London", at, birthdays, recent, weekend, leapDay, count("timezone = 'Europe/London'"))
		if birthdays == 0 || (at == now && recent == 0) || (at != now && leapDay == 0) {
			t.Fatalf("%s: the sample has too few birthdays to test: %d, %d recent, %d born on 29 February", at, birthdays, recent, leapDay)
		}
		for _, test := range []bool{true, false} {
			_, s := runAt(t, dir, "birthday", test, at)
			if s.Status != "succeeded" {
				t.Fatalf("%s test=%v: %+v", at, test, s)
			}
			for _, c := range []struct {
				name      string
				got, want int64
			}{
				{"birthdays.out", port(s, "birthdays", "out"), birthdays},
				{"byHabit.recent", port(s, "byHabit", "recent"), recent},
				{"byHabit.weekend", port(s, "byHabit", "weekend"), weekend},
				{"byHabit.others", port(s, "byHabit", "others"), birthdays - recent - weekend},
				{"sendGift out+skipped", port(s, "sendGift", "out") + port(s, "sendGift", "skipped"), recent},
			} {
				if c.got != c.want {
					t.Errorf("%s test=%v %s = %d, want %d", at, test, c.name, c.got, c.want)
				}
			}
		}
	}
}
