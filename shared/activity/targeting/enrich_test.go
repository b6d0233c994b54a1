package targeting_test

import (
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity"
)

func TestEnrichment(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + allCustomers + `
  - id: file
    type: load-file
    file: leads.csv
    columns:
      - { name: line, type: integer }
      - { name: email, type: string }
      - { name: code, type: string }
  - id: rich
    type: enrichment
    from: [all, file]
    add:
      - { name: city, field: store.city }
      - { name: mail, field: email }
      - { name: orders, link: purchases, aggregate: count }
      - { name: orders2026, link: purchases, aggregate: count, where: { field: purchasedAt, op: gte, value: "2026-01-01" } }
      - { name: spend2026, link: purchases, aggregate: sum, field: amount, where: { field: purchasedAt, op: gte, value: "2026-01-01" } }
      - { name: skus, link: purchases, aggregate: countDistinct, field: sku }
      - { name: avgAmount, link: purchases, aggregate: avg, field: amount }
      - { name: lastAt, link: purchases, aggregate: max, field: purchasedAt }
      - { name: berlin, link: purchases, aggregate: count, where: { field: store.city, op: eq, value: Berlin } }
      - { name: last, link: purchases, collect: 2, fields: [sku, amount], orderBy: [{ field: purchasedAt, desc: true }] }
      - { name: code, join: file, on: { email: email }, field: code }
      - { name: big, link: purchases, collect: 1, fields: [sku], where: { field: amount, op: gt, value: 15 }, orderBy: [{ field: amount }] }
      - { name: amounts, link: purchases, aggregate: count, field: amount }
`)
	all := e.must(p, "all", opts{})
	// File rows: a@x.com twice (line 1 first), a null email (matches nothing).
	file := e.fixture("fixtures/file", "", []string{"line"}, `SELECT * FROM (VALUES
		(2, 'a@x.com', 'A2'), (1, 'a@x.com', 'A1'), (3, NULL, 'N'), (4, 'c@x.com', 'C'), (5, 'zz@x.com', 'Z')) AS t(line, email, code)`)
	file.From = "file"
	res := e.must(p, "rich", opts{}, out("all", all), file)
	m := e.manifest(res, "out")
	eq(t, "columns", m.ColumnNames(), list("customerId email country tier points storeId signupAt city mail orders orders2026 spend2026 skus avgAmount lastAt berlin "+
		"last1Sku last1Amount last2Sku last2Amount code big1Sku amounts"))
	types := map[string]string{}
	for _, c := range m.Columns {
		types[c.Name] = c.Type
		if c.Name == "spend2026" || c.Name == "last1Amount" {
			if c.Type != "decimal" || c.Scale != 2 {
				t.Errorf("%s: %+v", c.Name, c)
			}
		}
	}
	if types["orders"] != "integer" || types["avgAmount"] != "number" || types["lastAt"] != "timestamp" {
		t.Errorf("types %v", types)
	}
	v := e.view(res, "out")
	got := e.strs(`SELECT concat_ws(' ', customerId, coalesce(city, '∅'), coalesce(mail, '∅'), orders, orders2026, coalesce(spend2026::VARCHAR, '∅'),
		skus, coalesce(printf('%.3f', avgAmount), '∅'), coalesce(strftime(lastAt, '%m-%d'), '∅'), berlin,
		coalesce(last1Sku, '∅'), coalesce(last1Amount::VARCHAR, '∅'), coalesce(last2Sku, '∅'), coalesce(last2Amount::VARCHAR, '∅'), coalesce(code, '∅')) FROM ` + v)
	want := []string{
		"C01 Paris a@x.com 3 2 30.50 3 11.917 03-05 0 SKU2 20.00 SKU1 10.50 A1",
		"C02 Paris a@x.com 1 1 100.00 1 100.000 02-01 1 SKU1 100.00 ∅ ∅ A1",
		// P05 and P06 are at the same instant: the purchase key decides.
		"C03 Berlin b@x.com 2 2 14.00 2 7.000 03-10 2 SKU2 7.00 SKU4 7.00 ∅",
		"C04 Berlin ∅ 0 0 ∅ 0 ∅ ∅ 0 ∅ ∅ ∅ ∅ ∅",
		"C05 ∅ ∅ 0 0 ∅ 0 ∅ ∅ 0 ∅ ∅ ∅ ∅ ∅",
		"C06 New York  0 0 ∅ 0 ∅ ∅ 0 ∅ ∅ ∅ ∅ ∅",
		"C07 New York c@x.com 1 1 300.00 1 300.000 01-15 0 SKU5 300.00 ∅ ∅ C",
		"C08 Paris c@x.com 0 0 ∅ 0 ∅ ∅ 0 ∅ ∅ ∅ ∅ C",
		// P08 has a null amount: the sum of nothing but null is null.
		"C09 Berlin c@x.com 1 1 ∅ 1 ∅ 03-02 1 SKU1 ∅ ∅ ∅ C",
		"C10 ∅ d@x.com 0 0 ∅ 0 ∅ ∅ 0 ∅ ∅ ∅ ∅ ∅",
	}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Errorf("row %d:\n got  %q\n want %q", i, at(got, i), want[i])
		}
	}
	// A filtered collect (its arguments come before the aggregates'), and
	// count of a field (non-null values only: P08's amount is null).
	eq(t, "big and amounts", e.strs("SELECT customerId || ':' || coalesce(big1Sku, '∅') || ':' || amounts FROM "+v),
		list("C01:SKU2:3 C02:SKU1:1 C03:∅:2 C04:∅:0 C05:∅:0 C06:∅:0 C07:SKU5:1 C08:∅:0 C09:∅:0 C10:∅:0"))
	// The aggregates again, in plain SQL over the source files.
	plain := e.strs(`SELECT c.customerId || ' ' || count(p.purchaseId) || ' ' || coalesce(sum(p.amount) FILTER (WHERE p.purchasedAt >= TIMESTAMPTZ '2026-01-01 00:00:00+00')::VARCHAR, '∅')
		FROM read_parquet('` + e.dir + `/data/customers.parquet') c LEFT JOIN read_parquet('` + e.dir + `/data/purchases.parquet') p USING (customerId)
		GROUP BY c.customerId ORDER BY c.customerId`)
	mine := e.strs(`SELECT customerId || ' ' || orders || ' ' || coalesce(spend2026::VARCHAR, '∅') FROM ` + v)
	eq(t, "aggregates vs plain SQL", mine, plain)

	e.rerunSame(p, "rich", opts{}, res, out("all", all), file)

	// An inactive joined population gives nulls.
	off := e.must(p, "rich", opts{run: "r2"}, out("all", all), activity.Input{From: "file", Port: "out"})
	eq(t, "codes without the file", e.col(off, "out", "code"), list("∅ ∅ ∅ ∅ ∅ ∅ ∅ ∅ ∅ ∅"))
}

func at(xs []string, i int) string {
	if i < len(xs) {
		return xs[i]
	}
	return "(missing)"
}
