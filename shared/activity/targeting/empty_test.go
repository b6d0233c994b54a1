package targeting_test

import (
	"context"
	"testing"
)

// Every type runs on an empty population: ports are activated with 0 rows
// and the columns they declare (skipEmpty segments stay off).
func TestEmptyInputs(t *testing.T) {
	e := fixtureEnv(t)
	p := e.compile(campaignHead + `
  - { id: none, type: build-audience, where: { field: country, op: eq, value: XX } }
  - { id: gold, type: build-audience, where: { field: tier, op: eq, value: gold } }
  - { id: toPurchases, type: change-dimension, from: none, to: purchases, via: purchases }
  - { id: union, type: combine, from: [none, gold], operation: union }
  - { id: inter, type: combine, from: [none, gold], operation: intersection, complement: true }
  - { id: excl, type: combine, from: [gold, none], operation: exclusion, complement: true }
  - { id: dedup, type: deduplication, from: none, by: [email], complement: true }
  - id: rich
    type: enrichment
    from: none
    add:
      - { name: n, link: purchases, aggregate: count }
      - { name: last, link: purchases, collect: 1, fields: [sku] }
  - id: split
    type: split
    from: none
    others: true
    segments:
      - { name: a, limit: { percent: 50 } }
      - { name: b, skipEmpty: true }
  - { id: single, type: split, from: none, single: true, segments: [{ name: a }] }
  - { id: known, type: reconciliation, from: none, match: [{ input: email, field: email }], keepUnmatched: true }
  - { id: save, type: save-audience, from: none, audience: nobody }
`)
	none := e.must(p, "none", opts{})
	gold := e.must(p, "gold", opts{})
	in := out("none", none)
	expect := func(id string, off []string, ports map[string]string) {
		t.Helper()
		res := e.must(p, id, opts{}, in)
		for port, cols := range ports {
			if !active(res, port) || res.Counts[port] != 0 {
				t.Errorf("%s.%s: %+v", id, port, res.Counts)
				continue
			}
			if cols != "" {
				eq(t, id+"."+port+" columns", e.manifest(res, port).ColumnNames(), list(cols))
			}
		}
		for _, port := range off {
			if active(res, port) {
				t.Errorf("%s.%s should be off", id, port)
			}
		}
	}
	cust := "customerId email country tier points storeId signupAt"
	expect("toPurchases", nil, map[string]string{"out": "purchaseId customerId amount purchasedAt sku storeId"})
	expect("dedup", nil, map[string]string{"out": cust, "duplicates": cust})
	expect("rich", nil, map[string]string{"out": cust + " n last1Sku"})
	expect("split", []string{"b"}, map[string]string{"a": cust, "others": cust})
	expect("single", nil, map[string]string{"out": cust + " segmentCode"})
	expect("known", nil, map[string]string{"out": cust, "unmatched": cust + " reason"})
	expect("save", nil, map[string]string{"out": cust})
	if a, err := e.state.GetAudience(context.Background(), "nobody"); err != nil || a.Count != 0 {
		t.Errorf("empty audience: %+v %v", a, err)
	}

	u := e.must(p, "union", opts{}, in, out("gold", gold))
	eq(t, "union with an empty input", e.ids(u, "out"), list("C01 C04 C07 C10"))
	i := e.must(p, "inter", opts{}, in, out("gold", gold))
	if i.Counts["out"] != 0 || i.Counts["complement"] != 4 {
		t.Errorf("intersection with an empty input: %+v", i.Counts)
	}
	x := e.must(p, "excl", opts{}, out("gold", gold), in)
	if x.Counts["out"] != 4 || !active(x, "complement") || x.Counts["complement"] != 0 {
		t.Errorf("exclusion of an empty input: %+v", x.Counts)
	}
}
