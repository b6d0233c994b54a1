// Command narrow measures the follow-up that docs/benchmarks.md proposes for the
// reference benchmark: the reference campaign's targeting chain written with every
// transition at full width (what Stepwise does) against narrow transitions (the key and
// the added columns, the dimension joined back when read), in one DuckDB, best of two.
//
//	go run ./bench/narrow bench/out/size-1000000    # after make bench-reference
package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		panic(err)
	}
	db.SetMaxOpenConns(1)
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: narrow SIZE-FOLDER (bench/out/size-N of bench/reference)")
		os.Exit(2)
	}
	dir := os.Args[1]
	tmp, err := os.MkdirTemp("", "narrow")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	must := func(q string) time.Duration {
		t := time.Now()
		if _, err := db.Exec(q); err != nil {
			panic(fmt.Sprint(q, err))
		}
		return time.Since(t)
	}
	now := time.Now().UTC()
	lapsedBefore, yearAgo := now.AddDate(0, 0, -30).Format(time.RFC3339), now.AddDate(-1, 0, 0).Format(time.RFC3339)
	must(fmt.Sprintf("CREATE VIEW c AS SELECT * FROM read_parquet('%s/data/customers.parquet')", dir))
	must(fmt.Sprintf("CREATE VIEW p AS SELECT * FROM read_parquet('%s/data/purchases.parquet')", dir))
	must(fmt.Sprintf("CREATE VIEW s AS SELECT * FROM read_parquet('%s/data/stores.parquet')", dir))
	z := " (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1)"
	cols := `"customerId", "firstName", "email", "phone", "pushToken", "country", "tier", "emailOptIn", "smsOptIn", "timezone", "birthDate", "signupAt", "lastPurchaseAt", "storeId"`
	tcols := `t."customerId", t."firstName", t."email", t."phone", t."pushToken", t."country", t."tier", t."emailOptIn", t."smsOptIn", t."timezone", t."birthDate", t."signupAt", t."lastPurchaseAt", t."storeId"`
	where := `WHERE lastPurchaseAt < TIMESTAMPTZ '` + lapsedBefore + `' AND customerId IN (SELECT customerId FROM p GROUP BY customerId HAVING sum(amount) >= 50)`
	agg := `(SELECT customerId AS k0, count(*) FILTER (WHERE purchasedAt > TIMESTAMPTZ '` + yearAgo + `') a0, sum(amount) FILTER (WHERE purchasedAt > TIMESTAMPTZ '` + yearAgo + `') a1 FROM p WHERE EXISTS (SELECT 1 FROM IN1 i WHERE i.customerId = p.customerId) GROUP BY customerId)`
	run := func(name string, steps []string) {
		var tot time.Duration
		fmt.Printf("%s:", name)
		for _, q := range steps {
			d := must(q)
			tot += d
			fmt.Printf(" %v", d.Round(time.Millisecond))
		}
		fmt.Printf(" = %v\n", tot.Round(time.Millisecond))
	}
	repl := func(s, in string) string { return strings.ReplaceAll(s, "IN1", in) }
	wide := []string{
		"COPY (SELECT " + cols + " FROM c " + where + " ORDER BY customerId) TO '" + tmp + "/w1.parquet'" + z,
		"COPY (SELECT " + tcols + ", (SELECT max(city) FROM s WHERE s.storeId = t.storeId) city, coalesce(g.a0,0) orders365, g.a1 spend365 FROM read_parquet('" + tmp + "/w1.parquet') t LEFT JOIN " + repl(agg, "read_parquet('"+tmp+"/w1.parquet')") + " g ON g.k0 = t.customerId ORDER BY t.customerId) TO '" + tmp + "/w2.parquet'" + z,
		"COPY (SELECT * FROM read_parquet('" + tmp + "/w2.parquet') QUALIFY row_number() OVER (PARTITION BY email ORDER BY spend365 DESC NULLS LAST, customerId) = 1 ORDER BY customerId) TO '" + tmp + "/w3.parquet'" + z,
		"COPY (SELECT * FROM read_parquet('" + tmp + "/w3.parquet') WHERE orders365 >= 2 ORDER BY customerId) TO '" + tmp + "/w4a.parquet'" + z,
		"COPY (SELECT * FROM read_parquet('" + tmp + "/w3.parquet') WHERE NOT (orders365 >= 2) ORDER BY customerId) TO '" + tmp + "/w4b.parquet'" + z,
	}
	narrow := []string{
		"COPY (SELECT customerId FROM c " + where + " ORDER BY customerId) TO '" + tmp + "/n1.parquet'" + z,
		"COPY (SELECT t.customerId, (SELECT max(city) FROM s WHERE s.storeId = t.storeId) city, coalesce(g.a0,0) orders365, g.a1 spend365 FROM read_parquet('" + tmp + "/n1.parquet') k JOIN c t ON t.customerId = k.customerId LEFT JOIN " + repl(agg, "read_parquet('"+tmp+"/n1.parquet')") + " g ON g.k0 = t.customerId ORDER BY t.customerId) TO '" + tmp + "/n2.parquet'" + z,
		"COPY (SELECT k.* FROM read_parquet('" + tmp + "/n2.parquet') k JOIN c t ON t.customerId = k.customerId QUALIFY row_number() OVER (PARTITION BY t.email ORDER BY k.spend365 DESC NULLS LAST, k.customerId) = 1 ORDER BY k.customerId) TO '" + tmp + "/n3.parquet'" + z,
		"COPY (SELECT * FROM read_parquet('" + tmp + "/n3.parquet') WHERE orders365 >= 2 ORDER BY customerId) TO '" + tmp + "/n4a.parquet'" + z,
		"COPY (SELECT * FROM read_parquet('" + tmp + "/n3.parquet') WHERE NOT (orders365 >= 2) ORDER BY customerId) TO '" + tmp + "/n4b.parquet'" + z,
		// a channel reading its population back at full width
		"CREATE OR REPLACE TEMP TABLE wide AS SELECT t.*, k.city, k.orders365, k.spend365 FROM read_parquet('" + tmp + "/n4a.parquet') k JOIN c t ON t.customerId = k.customerId",
	}
	for range 2 {
		run("wide  ", wide)
		run("narrow", narrow)
	}
}
