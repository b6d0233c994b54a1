package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// The transitions side: what any engine pays to report every transition of
// a campaign, as a test run does. Each port's population is computed once,
// by hand, as an in-memory DuckDB table of its keys (and the columns later
// steps read), and counted; nothing is sorted or written, no file is read
// back; then the channels' inputs are rendered by the limit's loop. The
// limit computes only the messages, in one statement whose populations
// DuckDB never materializes: the distance between the two is what a
// campaign's per-transition counts cost on their own.

// step is one statement of the transitions side: a setup view (Port "") or
// the population of one port ("activity.port"), kept as a table named for
// the port and counted.
type step struct {
	Port string
	SQL  string
	Args []any
}

// transitions is a campaign's transitions side: its steps in order, then
// the statement selecting the messages over the ports' tables, with the
// columns of the limit's statement.
type transitions struct {
	Steps []step
	Final string
}

// runTransitions computes every port of t in db and returns the counts by
// port.
func runTransitions(ctx context.Context, db *sql.DB, t transitions) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, s := range t.Steps {
		if s.Port == "" {
			if _, err := db.ExecContext(ctx, s.SQL, s.Args...); err != nil {
				return nil, fmt.Errorf("setup: %v", err)
			}
			continue
		}
		if _, err := db.ExecContext(ctx, "CREATE TEMP TABLE "+dataset.QuoteIdent(s.Port)+" AS "+s.SQL, s.Args...); err != nil {
			return nil, fmt.Errorf("%s: %v", s.Port, err)
		}
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+dataset.QuoteIdent(s.Port)).Scan(&n); err != nil {
			return nil, fmt.Errorf("%s: %v", s.Port, err)
		}
		counts[s.Port] = n
	}
	return counts, nil
}

// sources are the setup views of a size's tables, by name.
func sources(data string, tables ...string) []step {
	var out []step
	for _, t := range tables {
		out = append(out, step{SQL: "CREATE VIEW " + t + " AS SELECT * FROM " + pq(data, t)})
	}
	return out
}

// emailPorts are an email activity's ports over its input's keys: out has
// an address and consent, skipped the others (no suppression in a test run
// of the bench campaigns).
func emailPorts(id, input, key string) []step {
	in := dataset.QuoteIdent(input)
	sendable := "coalesce(trim(c.email), '') <> '' AND c.emailOptIn"
	return []step{
		{Port: id + ".out", SQL: "SELECT i." + key + " FROM " + in + " i JOIN customers c USING (" + key + ") WHERE " + sendable},
		{Port: id + ".skipped", SQL: "SELECT i." + key + " FROM " + in + " i JOIN customers c USING (" + key + ") WHERE NOT coalesce(" + sendable + ", false)"},
	}
}

func referenceTransitions(data, _ string, now time.Time) transitions {
	since30, since365 := now.AddDate(0, 0, -30), now.AddDate(0, 0, -365)
	steps := sources(data, "customers", "purchases", "stores")
	steps = append(steps,
		step{Port: "lapsed.out", SQL: `SELECT c.customerId FROM customers c
  JOIN (SELECT customerId, sum(amount) AS total FROM purchases GROUP BY 1) p USING (customerId)
  WHERE c.lastPurchaseAt < $1 AND p.total >= 50`, Args: []any{since30}},
		step{Port: "enriched.out", SQL: `SELECT l.customerId, s.city, coalesce(p.orders365, 0) AS orders365, p.spend365
  FROM "lapsed.out" l JOIN customers c USING (customerId)
  LEFT JOIN stores s ON s.storeId = c.storeId
  LEFT JOIN (SELECT customerId, count(*) FILTER (WHERE purchasedAt > $1) AS orders365, sum(amount) FILTER (WHERE purchasedAt > $1) AS spend365
             FROM purchases GROUP BY 1) p USING (customerId)`, Args: []any{since365}},
		step{Port: "onePerEmail.out", SQL: `SELECT e.* FROM "enriched.out" e JOIN customers c USING (customerId)
  QUALIFY row_number() OVER (PARTITION BY c.email ORDER BY e.spend365 DESC NULLS LAST, e.customerId) = 1`},
		step{Port: "bySpend.vip", SQL: `SELECT customerId FROM "onePerEmail.out" WHERE spend365 >= 1000
  ORDER BY spend365 DESC, customerId LIMIT 50000`},
		step{Port: "bySpend.active", SQL: `SELECT customerId FROM "onePerEmail.out"
  WHERE orders365 >= 2 AND customerId NOT IN (SELECT customerId FROM "bySpend.vip")`},
		step{SQL: `CREATE TEMP TABLE remaining AS SELECT customerId FROM "onePerEmail.out"
  WHERE customerId NOT IN (SELECT customerId FROM "bySpend.vip") AND customerId NOT IN (SELECT customerId FROM "bySpend.active")`},
		step{Port: "bySpend.rest", SQL: `SELECT customerId FROM remaining
  QUALIFY row_number() OVER (ORDER BY customerId) <= count(*) OVER () // 2`},
		step{Port: "bySpend.others", SQL: `SELECT customerId FROM remaining WHERE customerId NOT IN (SELECT customerId FROM "bySpend.rest")`},
	)
	steps = append(steps, emailPorts("mailVip", "bySpend.vip", "customerId")...)
	steps = append(steps, emailPorts("mailActive", "bySpend.active", "customerId")...)
	steps = append(steps, emailPorts("mailRest", "bySpend.rest", "customerId")...)
	return transitions{Steps: steps, Final: `
SELECT m.act, c.customerId, c.firstName, c.email, c.signupAt, e.city, e.orders365, CAST(e.spend365 AS VARCHAR) AS spend365
FROM (SELECT 0 AS act, customerId FROM "mailVip.out" UNION ALL SELECT 1, customerId FROM "mailActive.out"
      UNION ALL SELECT 2, customerId FROM "mailRest.out") m
JOIN customers c USING (customerId) JOIN "enriched.out" e USING (customerId)`}
}

func segmentsTransitions(data, _ string, now time.Time) transitions {
	steps := sources(data, "customers", "purchases")
	steps = append(steps,
		step{Port: "bigBaskets.out", SQL: `SELECT purchaseId, customerId FROM purchases WHERE amount >= 150 AND purchasedAt > $1`,
			Args: []any{now.AddDate(0, 0, -180)}},
		step{Port: "bigBuyers.out", SQL: `SELECT customerId FROM customers WHERE customerId IN (SELECT customerId FROM "bigBaskets.out")`},
		step{Port: "loyal.out", SQL: `SELECT customerId FROM customers WHERE tier IN ('gold', 'silver')`},
		step{Port: "loyalPurchases.out", SQL: `SELECT purchaseId, customerId FROM purchases WHERE customerId IN (SELECT customerId FROM "loyal.out")`},
		step{Port: "recentPurchases.out", SQL: `SELECT purchaseId FROM purchases WHERE purchasedAt > $1`, Args: []any{now.AddDate(0, 0, -90)}},
		step{Port: "loyalRecent.out", SQL: `SELECT purchaseId, customerId FROM "loyalPurchases.out"
  WHERE purchaseId IN (SELECT purchaseId FROM "recentPurchases.out")`},
		step{Port: "loyalBuyers.out", SQL: `SELECT customerId FROM customers WHERE customerId IN (SELECT customerId FROM "loyalRecent.out")`},
		step{Port: "target.out", SQL: `SELECT customerId FROM "bigBuyers.out" UNION SELECT customerId FROM "loyalBuyers.out"`},
		step{Port: "abroad.out", SQL: `SELECT customerId FROM customers WHERE country NOT IN ('FR', 'DE', 'ES', 'IT')`},
		step{Port: "home.out", SQL: `SELECT customerId FROM "target.out" WHERE customerId NOT IN (SELECT customerId FROM "abroad.out")`},
		step{Port: "home.complement", SQL: `SELECT customerId FROM "target.out" WHERE customerId IN (SELECT customerId FROM "abroad.out")`},
		step{Port: "thisWeek.out", SQL: `SELECT customerId FROM customers WHERE lastPurchaseAt > $1`, Args: []any{now.AddDate(0, 0, -7)}},
		step{Port: "toMail.out", SQL: `SELECT customerId FROM "home.out" WHERE customerId NOT IN (SELECT customerId FROM "thisWeek.out")`},
	)
	steps = append(steps, emailPorts("mailHome", "toMail.out", "customerId")...)
	steps = append(steps, emailPorts("mailAbroad", "home.complement", "customerId")...)
	return transitions{Steps: steps, Final: `
SELECT m.act, c.customerId, c.firstName, c.email, c.tier, c.country
FROM (SELECT 0 AS act, customerId FROM "mailHome.out" UNION ALL SELECT 1, customerId FROM "mailAbroad.out") m
JOIN customers c USING (customerId)`}
}

func leadsTransitions(data, dir string, _ time.Time) transitions {
	steps := sources(data, "customers")
	steps = append(steps,
		step{SQL: `CREATE TEMP TABLE file AS SELECT row_number() OVER () AS line, lower(email) AS email,
  TRY_CAST(trim(points) AS BIGINT) AS points, trim(points) AS rawPoints, lower(tier) AS newTier
  FROM read_csv(` + dataset.QuoteLiteral(filepath.Join(dir, leadsFile)) + `, header = true, all_varchar = true, delim = ',', quote = '"')`},
		step{Port: "fileRows.out", SQL: `SELECT line, email, points, newTier FROM file
  WHERE coalesce(trim(email), '') <> '' AND (coalesce(rawPoints, '') = '' OR points IS NOT NULL)`},
		step{Port: "fileRows.rejects", SQL: `SELECT line FROM file WHERE line NOT IN (SELECT line FROM "fileRows.out")`},
		step{SQL: `CREATE TEMP TABLE matches AS SELECT f.line, any_value(c.customerId) AS customerId, count(c.customerId) AS n
  FROM "fileRows.out" f LEFT JOIN customers c ON c.email = f.email GROUP BY f.line`},
		step{Port: "known.out", SQL: `SELECT m.customerId, f.points, f.newTier FROM matches m JOIN "fileRows.out" f USING (line) WHERE m.n = 1`},
		step{Port: "known.unmatched", SQL: `SELECT line FROM matches WHERE n <> 1`},
		step{Port: "upgrade.out", SQL: `SELECT * FROM "known.out" WHERE customerId IS NOT NULL`},
		step{Port: "upgrade.rejects", SQL: `SELECT * FROM "known.out" WHERE customerId IS NULL`},
		step{Port: "reportUnknown.out", SQL: `SELECT * FROM "known.unmatched"`},
	)
	steps = append(steps, emailPorts("welcome", "upgrade.out", "customerId")...)
	return transitions{Steps: steps, Final: `
SELECT 0 AS act, c.customerId, c.firstName, c.email, c.tier, u.points, u.newTier
FROM "welcome.out" w JOIN "upgrade.out" u USING (customerId) JOIN customers c USING (customerId)`}
}

// portCounts reads every port's count from a run's summary.
func portCounts(stdout string) (map[string]int64, error) {
	var s struct {
		Activities map[string]struct{ Ports map[string]int64 }
	}
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		return nil, fmt.Errorf("summary: %v", err)
	}
	out := map[string]int64{}
	for id, a := range s.Activities {
		for p, n := range a.Ports {
			out[id+"."+p] = n
		}
	}
	return out, nil
}

// countsDiffer lists the ports whose counts differ between the run (want)
// and the transitions side (got), and the ports only one of them has.
func countsDiffer(want, got map[string]int64) string {
	var d []string
	for p, n := range want {
		if g, ok := got[p]; !ok {
			d = append(d, p+" missing")
		} else if g != n {
			d = append(d, fmt.Sprintf("%s %d (Stepwise %d)", p, g, n))
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			d = append(d, p+" not a port of the run")
		}
	}
	slices.Sort(d)
	return strings.Join(d, ", ")
}
