package condition

import (
	"errors"
	"strings"
	"testing"
)

func TestTrinoDialect(t *testing.T) {
	for _, c := range []struct{ doc, want, not string }{
		{`{ field: email, op: contains, value: "@x" }`, `(strpos("t"."email", CAST(? AS VARCHAR)) > 0)`, "contains("},
		{`{ field: email, op: notContains, value: "@x" }`, `NOT (strpos("t"."email", CAST(? AS VARCHAR)) > 0)`, "contains("},
		{`{ field: lastPurchaseAt, op: lt, value: { ago: 90d } }`, `CAST(? AS TIMESTAMP WITH TIME ZONE)`, "TIMESTAMPTZ"},
		{`{ link: purchases, aggregate: sum, field: amount, op: gte, value: 100 }`, `FROM "db"."v_purchases" AS l1`, `FROM "v_purchases"`},
	} {
		sc := sqlScope(t)
		sc.Dialect, sc.Database = Trino, "db"
		sql, args, err := ToSQL(mustCond(t, "where: "+c.doc), sc)
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		if !strings.Contains(sql, c.want) || strings.Contains(sql, c.not) {
			t.Errorf("%s:\n%s\nwant %q, not %q", c.doc, sql, c.want, c.not)
		}
		for _, a := range args {
			if s, ok := a.(string); ok && strings.Contains(s, "T") && strings.HasSuffix(s, "Z") {
				t.Errorf("%s: RFC 3339 argument %q: Trino casts 'YYYY-MM-DD hh:mm:ss zone'", c.doc, s)
			}
		}
	}
	// A saved audience is a Glue table of the database too.
	sc := sqlScope(t)
	sc.Dialect, sc.Database = Trino, "db"
	if sql, _, err := ToSQL(mustCond(t, `where: { inAudience: vip-2026 }`), sc); err != nil || !strings.Contains(sql, `FROM "db"."aud_vip" AS`) {
		t.Errorf("inAudience on Trino: %s, %v", sql, err)
	}
	// The timestamp form Trino reads.
	sc = sqlScope(t)
	sc.Dialect = Trino
	_, args, _ := ToSQL(mustCond(t, `where: { field: lastPurchaseAt, op: lt, value: "2026-03-01T10:00:00Z" }`), sc)
	if len(args) != 1 || args[0] != "2026-03-01 10:00:00.000000 UTC" {
		t.Errorf("timestamp argument %v, want 2026-03-01 10:00:00.000000 UTC", args)
	}
	// What the Trino dialect cannot lower yet is named.
	for _, doc := range []string{
		`{ field: birthDate, op: anniversary }`,
		`{ field: lastPurchaseAt, part: weekday, op: in, value: [sat, sun] }`,
	} {
		sc := sqlScope(t)
		sc.Dialect = Trino
		if _, _, err := ToSQL(mustCond(t, "where: "+doc), sc); !errors.Is(err, ErrNotOnAthena) {
			t.Errorf("%s: %v, want not yet on athena", doc, err)
		}
		sc.Dialect = DuckDB
		if _, _, err := ToSQL(mustCond(t, "where: "+doc), sc); err != nil {
			t.Errorf("%s on duckdb: %v", doc, err)
		}
	}
}
