package targeting_test

import (
	"testing"
)

// Identifiers with quotes, spaces and semicolons, and values that look like
// SQL, go through every builder as quoted identifiers and bound values.
func TestHostileNamesAndValues(t *testing.T) {
	e := newEnv(t)
	e.parquet("data/t.parquet", `SELECT * FROM (VALUES
		('1', 'it''s; DROP TABLE x; --', 'a"b'),
		('2', 'it''s; DROP TABLE x; --', 'ü ✓'),
		('3', '/* c */ OR 1=1', '''); --'),
		('4', NULL, 'a"b')) AS t("k""ey;--", "e mail'", "ti er")`)
	e.catalog(`version: 1
tables:
  - name: "we ird"
    key: ['k"ey;--']
    source: data/t.parquet
    columns:
      - { name: 'k"ey;--', type: string }
      - { name: "e mail'", type: string }
      - { name: "ti er", type: string }
`)
	p := e.compile(`version: 1
id: h
name: hostile
dimension: "we ird"
activities:
  - { id: all, type: build-audience }
  - { id: sel, type: build-audience, where: { field: "e mail'", op: eq, value: "it's; DROP TABLE x; --" } }
  - { id: dedup, type: deduplication, from: all, by: ["e mail'"], method: values, field: "ti er", values: ["ü ✓", "'); --"], complement: true }
  - id: split
    type: split
    from: all
    single: true
    others: true
    segments:
      - { name: s1, code: "'); DROP TABLE x; --", where: { field: "ti er", op: eq, value: 'a"b' } }
  - { id: both, type: combine, from: [sel, all], operation: intersection, key: ["e mail'"], complement: true }
  - { id: rich, type: enrichment, from: all, add: [{ name: 'co"py', field: "ti er" }] }
`)
	all := e.must(p, "all", opts{})
	key := `"k""ey;--"`
	eq(t, "all", e.strs("SELECT "+key+" FROM "+e.view(all, "out")), list("1 2 3 4"))
	sel := e.must(p, "sel", opts{})
	eq(t, "sel", e.strs("SELECT "+key+" FROM "+e.view(sel, "out")), list("1 2"))
	d := e.must(p, "dedup", opts{}, out("all", all))
	eq(t, "dedup", e.strs("SELECT "+key+" FROM "+e.view(d, "out")), list("2 3 4"))
	s := e.must(p, "split", opts{}, out("all", all))
	eq(t, "split codes", e.strs(`SELECT coalesce("segmentCode", '∅') FROM `+e.view(s, "out")), []string{"'); DROP TABLE x; --", "∅", "∅", "'); DROP TABLE x; --"})
	b := e.must(p, "both", opts{}, out("sel", sel), out("all", all))
	eq(t, "intersection", e.strs("SELECT "+key+" FROM "+e.view(b, "out")), list("1 2"))
	eq(t, "complement", e.strs("SELECT "+key+" FROM "+e.view(b, "complement")), list("3 4"))
	r := e.must(p, "rich", opts{}, out("all", all))
	eq(t, "copy", e.strs(`SELECT "co""py" FROM `+e.view(r, "out")), []string{`a"b`, "ü ✓", "'); --", `a"b`})
}
