package condition

import (
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
	// Date parts and windows, and saved audiences, in Trino's spelling.
	for _, c := range []struct{ doc, want, not string }{
		{`{ field: birthDate, op: anniversary }`, `(month("t"."birthDate") * 100 + day("t"."birthDate"))`, "dayofmonth("},
		{`{ field: lastPurchaseAt, part: weekday, op: in, value: [sat, sun] }`, `day_of_week(CAST(at_timezone(CAST("t"."lastPurchaseAt" AS TIMESTAMP WITH TIME ZONE), COALESCE(CASE WHEN "t"."timezone" IN (SELECT "name" FROM "db"."sw_zones")`, "isodow("},
		{`{ field: lastPurchaseAt, op: inLast, within: 7d }`, `date_diff('day', CAST(at_timezone(`, "pg_timezone_names"},
		{`{ inAudience: vip-2026 }`, `EXISTS (SELECT 1 FROM "db"."aud_vip" AS l1 WHERE l1."customerId" = "t"."customerId")`, `FROM "aud_vip"`},
	} {
		sc := sqlScope(t)
		sc.Dialect, sc.Database = Trino, "db"
		sc.Zones = func() (string, error) { return "sw_zones", nil }
		sql, _, err := ToSQL(mustCond(t, "where: "+c.doc), sc)
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		if !strings.Contains(sql, c.want) || strings.Contains(sql, c.not) || strings.Contains(sql, "CAST(timezone(") {
			t.Errorf("%s:\n%s\nwant %q, not %q", c.doc, sql, c.want, c.not)
		}
	}
	// A zone column needs the relation of zone names on Trino.
	sc = sqlScope(t)
	sc.Dialect = Trino
	if _, _, err := ToSQL(mustCond(t, `where: { field: lastPurchaseAt, part: weekday, op: eq, value: sat }`), sc); err == nil || !strings.Contains(err.Error(), "SQLScope.Zones is nil") {
		t.Errorf("no Zones: %v", err)
	}
}
