package condition_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Date parts and windows run on DuckDB against hand-computed rows, in both
// dialects (Trino's through the stand-in's macros, condition.TrinoOnDuckDB,
// its values inlined as on Athena). The run starts on Saturday 2027-02-27 at
// 23:30 UTC: 00:30 on Sunday the 28th in Paris (the campaign's zone) and
// Tokyo, still the 27th in London and New York. 2027 has no 29 February;
// cases with their own clock cover 2028's 29 February and the spring DST
// changes (New York 2027-03-14 07:00 UTC, Paris 2027-03-28 01:00 UTC).
func TestDateConditionsOnDuckDB(t *testing.T) {
	ctx := context.Background()
	e, err := dataset.New(dataset.Options{WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, q := range []string{
		`CREATE TABLE c (customerId VARCHAR, birthDate DATE, lastPurchaseAt TIMESTAMPTZ, timezone VARCHAR)`,
		`INSERT INTO c VALUES
			('a', '2000-02-29', '2027-02-26 23:30:00+00', 'Europe/Paris'),     -- bought Sat 27 00:30 Paris
			('b', '2000-02-29', '2027-02-27 04:00:00+00', 'America/New_York'), -- bought Fri 26 23:00 New York
			('c', '2000-02-28', '2027-02-27 23:00:00+00', 'Europe/London'),    -- bought Sat 27 23:00 London
			('d', '2000-02-28', NULL, 'Nope/Zone'),                            -- unknown zone: Paris
			('e', '2000-02-28', NULL, NULL),                                   -- no zone: Paris
			('f', '2027-02-28', NULL, 'Europe/Paris'),                         -- born today: no anniversary yet
			('g', NULL, NULL, 'Europe/Paris'),
			('h', '1990-03-01', '2027-02-28 10:00:00+00', 'Asia/Tokyo'),       -- bought Sun 28 19:00 Tokyo
			('i', '1990-12-31', NULL, 'Pacific/Kiritimati')`,
		`CREATE TABLE v_purchases (purchaseId VARCHAR, customerId VARCHAR, purchasedAt TIMESTAMPTZ)`,
		// Linked rows use the campaign's zone: 23:50 on the 27th and 00:10 on the 28th in Paris.
		`INSERT INTO v_purchases VALUES ('p1', 'b', '2027-02-27 22:50:00+00'), ('p2', 'c', '2027-02-27 23:10:00+00')`,
		condition.TrinoOnDuckDB,
		`CREATE TABLE zones AS SELECT name FROM pg_timezone_names()`,
	} {
		if err := e.Exec(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	cat, diags := campaign.LoadCatalog("testdata/catalog.yaml")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	customers, _ := cat.Table("customers")
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	sc := condition.SQLScope{
		Alias: "t", Schema: customers.Schema(), Catalog: cat,
		Relation: func(table string) (string, error) { return "v_" + table, nil },
		Now:      time.Date(2027, 2, 27, 23, 30, 0, 0, time.UTC), Location: paris,
	}
	cases := []struct {
		where string
		want  string
		now   string // the run's instant, when not sc.Now
	}{
		{`{ field: birthDate, op: anniversary }`, "a d e", ""},
		{`{ field: birthDate, op: anniversary, within: 0d }`, "a d e", ""},
		{`{ field: birthDate, op: anniversary, within: 1d }`, "a b c d e h", ""},
		{`{ not: { field: birthDate, op: anniversary } }`, "b c f g h i", ""},
		{`{ field: lastPurchaseAt, op: anniversary, within: 1d }`, "", ""},
		{`{ field: lastPurchaseAt, op: inLast, within: 1d }`, "a b c h", ""},
		{`{ field: lastPurchaseAt, op: inLast, within: 0d }`, "c h", ""},
		{`{ field: lastPurchaseAt, op: inNext, within: 3d }`, "c h", ""},
		{`{ field: birthDate, op: inNext, within: 1d }`, "f", ""},
		{`{ field: birthDate, op: inLast, within: 1w }`, "f", ""},
		{`{ field: lastPurchaseAt, part: weekday, op: in, value: [sat, sun] }`, "a c h", ""},
		{`{ field: lastPurchaseAt, part: weekday, op: eq, value: fri }`, "b", ""},
		{`{ field: birthDate, part: month, op: eq, value: 2 }`, "a b c d e f", ""},
		{`{ field: birthDate, part: day, op: eq, value: 29 }`, "a b", ""},
		{`{ field: birthDate, part: year, op: lt, value: 1995 }`, "h i", ""},
		{`{ field: birthDate, part: month, op: between, value: [3, 12] }`, "h i", ""},
		{`{ link: purchases, exists: { field: purchasedAt, op: inLast, within: 0d } }`, "c", ""},
		// 2028 is a leap year: 29 February is its own anniversary, and
		// 28 February's is the 28th only. At 23:30 UTC on the 28th it is
		// the 29th in Paris and Tokyo, still the 28th in London and New
		// York; Kiritimati (+14) is a day ahead. f (born 2027-02-28) has
		// its first anniversary.
		{`{ field: birthDate, op: anniversary }`, "c d e f", "2028-02-28T12:00:00Z"},
		{`{ field: birthDate, op: anniversary }`, "a c", "2028-02-28T23:30:00Z"},
		{`{ field: birthDate, op: anniversary }`, "a b", "2028-02-29T12:00:00Z"},
		{`{ field: birthDate, op: anniversary, within: 1d }`, "a b c d e f", "2028-02-28T12:00:00Z"},
		{`{ field: birthDate, op: anniversary, within: 1d }`, "a b h", "2028-02-29T12:00:00Z"},
		// Spring DST: New York turns EDT at 07:00 UTC on 14 March 2027, so
		// its 15th starts at 04:00 UTC (05:00 in EST); Paris and London
		// turn at 01:00 UTC on 28 March, Paris's 29th starting at 22:00
		// UTC. Local purchase days: a 27 Feb, b 26 Feb, c 27 Feb, h 28 Feb.
		{`{ field: lastPurchaseAt, op: inLast, within: 16d }`, "a b c h", "2027-03-15T03:30:00Z"},
		{`{ field: lastPurchaseAt, op: inLast, within: 16d }`, "a c h", "2027-03-15T04:30:00Z"},
		{`{ field: lastPurchaseAt, op: inLast, within: 29d }`, "a c h", "2027-03-28T21:30:00Z"},
		{`{ field: lastPurchaseAt, op: inLast, within: 29d }`, "c h", "2027-03-28T22:30:00Z"},
		{`{ field: lastPurchaseAt, part: weekday, op: eq, value: sat }`, "a c", "2027-03-28T22:30:00Z"},
	}
	for _, tc := range cases {
		src, diags := campaign.Parse("cond.yaml", []byte("where: "+tc.where))
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		var doc struct {
			Where *condition.Condition `json:"where"`
		}
		campaign.NewDecoder(src, &diags).Decode(src.Root, "", &doc)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", tc.where, diags)
		}
		for _, d := range []condition.Dialect{condition.DuckDB, condition.Trino} {
			sc := sc
			if tc.now != "" {
				sc.Now, _ = time.Parse(time.RFC3339, tc.now)
			}
			sc.Dialect = d
			sc.Zones = func() (string, error) { return "zones", nil }
			where, args, err := condition.ToSQL(doc.Where, sc)
			if err != nil {
				t.Fatalf("%s on %s: %v", tc.where, d, err)
			}
			if d == condition.Trino {
				if where, err = condition.Inline(where, args); err != nil {
					t.Fatal(err)
				}
				args = nil
			}
			var got []string
			err = e.Query(ctx, 100, func(b *dataset.Batch) error {
				for _, r := range b.Rows {
					got = append(got, fmt.Sprint(r[0]))
				}
				return nil
			}, `SELECT customerId FROM c AS "t" WHERE `+where+` ORDER BY 1`, args...)
			if err != nil {
				t.Fatalf("%s on %s: %v\n%s", tc.where, d, err, where)
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("%s on %s at %s: got [%s], want [%s]", tc.where, d, sc.Now.Format(time.RFC3339), g, tc.want)
			}
		}
	}
}
