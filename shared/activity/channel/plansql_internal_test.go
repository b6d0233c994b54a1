package channel

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// planFixture is a plan's input: customers with an address, a consent and
// a time zone in the population's own columns.
func planFixture() *planInput {
	s := campaign.Schema{Columns: []campaign.Column{{Name: "id", Type: campaign.TypeString}, {Name: "email", Type: campaign.TypeString},
		{Name: "optIn", Type: campaign.TypeBoolean}, {Name: "tz", Type: campaign.TypeString}}}
	tbl := &campaign.Table{Name: "customers", Key: []string{"id"}, Columns: s.Columns,
		Targeting: &campaign.Targeting{Email: "email", Consent: map[string]string{"email": "optIn"}, Timezone: "tz"}}
	p := &planInput{key: []string{"id"}, schema: s, from: `"in" AS i`}
	p.addr, p.consent, p.tz, _ = targetingExprs(s, tbl, EmailKind)
	return p
}

func duckPlanSQL(p *planInput, unique bool, w *waves) string {
	with, order := p.ranked(unique, w)
	return with + "SELECT *, row_number() OVER (" + order + ") - 1 AS " + colRow + " FROM ranked ORDER BY " + colRow
}

// The DuckDB plan's SQL is the one written before the Trino hooks, byte
// for byte (the plan dataset is hashed).
func TestPlanSQLDuckDBUnchanged(t *testing.T) {
	p := planFixture()
	want := []string{
		"WITH src AS (SELECT i.\"id\", i.\"email\", i.\"optIn\", i.\"tz\", CAST(i.\"email\" AS VARCHAR) AS _sw_address, coalesce(TRY_CAST(i.\"optIn\" AS BOOLEAN), FALSE) AS _sw_consent, CAST(i.\"tz\" AS VARCHAR) AS _sw_tz FROM \"in\" AS i), ranked AS (SELECT src.*, CAST(? AS TIMESTAMPTZ) AS _sw_wave, coalesce(NULL, CAST(? AS VARCHAR)) AS _sw_skip FROM src) SELECT *, row_number() OVER (ORDER BY _sw_skip IS NOT NULL, _sw_wave, \"id\", _sw_skip) - 1 AS _sw_row FROM ranked ORDER BY _sw_row",
		"WITH src AS (SELECT i.\"id\", i.\"email\", i.\"optIn\", i.\"tz\", CAST(i.\"email\" AS VARCHAR) AS _sw_address, coalesce(TRY_CAST(i.\"optIn\" AS BOOLEAN), FALSE) AS _sw_consent, CAST(i.\"tz\" AS VARCHAR) AS _sw_tz FROM \"in\" AS i), zones(tz, wave, skip) AS (VALUES (a), (b)), ranked AS (SELECT src.*, coalesce(z.wave, d.wave) AS _sw_wave, coalesce(CASE WHEN row_number() OVER (PARTITION BY src.\"id\" ORDER BY src._sw_address NULLS LAST) > 1 THEN 'duplicate recipient' END, z.skip, CASE WHEN z.tz IS NULL THEN d.skip END) AS _sw_skip FROM src LEFT JOIN zones z ON z.tz = src._sw_tz CROSS JOIN (SELECT wave, skip FROM zones WHERE tz IS NULL) AS d) SELECT *, row_number() OVER (ORDER BY _sw_skip IS NOT NULL, _sw_wave, \"id\", _sw_skip) - 1 AS _sw_row FROM ranked ORDER BY _sw_row",
	}
	got := []string{duckPlanSQL(p, true, &waves{}), duckPlanSQL(p, false, &waves{zones: []string{"Europe/Paris"}, mapping: []string{"(a)", "(b)"}})}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("plan SQL %d changed:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	join := `"in" AS i LEFT JOIN (SELECT DISTINCT ON ("id") * FROM "tbl") AS c ON i."id" = c."id"`
	if f := planFrom(condition.DuckDB, `"in"`, `"tbl"`, []string{"id"}); f != join {
		t.Errorf("join changed: %s", f)
	}
}

// On Trino the plan's SELECT inlines its values, spells the types Trino
// has, finds duplicates always and joins without DISTINCT ON; quiet hours
// are refused (their waves stay on DuckDB).
func TestAthenaPlanSelect(t *testing.T) {
	p := planFixture()
	tbl := &campaign.Table{Name: "customers", Key: []string{"id"}, Columns: p.schema.Columns,
		Targeting: &campaign.Targeting{Email: "email", Consent: map[string]string{"email": "optIn"}, Timezone: "tz"}}
	a := AthenaPlan{Kind: EmailKind, Config: &Config{Window: "1h"}, Input: p.schema, Key: []string{"id"}, Table: tbl,
		Relation: `"db"."in"`, PlanAt: time.Date(2026, 12, 7, 10, 30, 15, 500, time.UTC)}
	sel, err := a.Select()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`FROM "db"."in" AS i`, `CAST('2026-12-07 10:30:15.000000' AS TIMESTAMP) AS _sw_wave`,
		"coalesce(CASE WHEN row_number() OVER (PARTITION BY src.\"id\" ORDER BY src._sw_address NULLS LAST) > 1 THEN 'duplicate recipient' END, CAST(NULL AS VARCHAR))",
		`- 1 AS _sw_row FROM ranked ORDER BY _sw_row`} {
		if !strings.Contains(sel, want) {
			t.Errorf("no %s in\n%s", want, sel)
		}
	}
	if strings.Contains(sel, "?") || strings.Contains(sel, "TIMESTAMPTZ") {
		t.Errorf("not a Trino statement: %s", sel)
	}
	// A population without the address column joins its table, one row a key.
	a.Input = campaign.Schema{Columns: p.schema.Columns[:1]}
	if _, err := a.Select(); err == nil || !strings.Contains(err.Error(), "needs table customers") {
		t.Errorf("no table: %v", err)
	}
	a.TableRelation = `"db"."customers"`
	sel, err = a.Select()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sel, `LEFT JOIN (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY "id") AS _sw_n FROM "db"."customers") WHERE _sw_n = 1) AS c`) ||
		strings.Contains(sel, "DISTINCT ON") {
		t.Errorf("join: %s", sel)
	}
	a.Config = &Config{QuietHours: &QuietHours{Start: "21:00", End: "08:00"}}
	if _, err := a.Select(); !errors.Is(err, ErrWavesOnDuckDB) {
		t.Errorf("quietHours: %v", err)
	}
}
