package data_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/sampledata"
)

// go test ./shared/activity/data -run '^$' -bench . -benchtime 1x

// BenchmarkLoadFileCSV loads a 1M-line CSV (about 60 MB) with typed columns.
func BenchmarkLoadFileCSV(b *testing.B) {
	h := newHome(b)
	dir := b.TempDir()
	f, _ := os.Create(filepath.Join(dir, "big.csv"))
	w := bufio.NewWriter(f)
	w.WriteString("email,points,tier,joined,note\n")
	for i := range 1_000_000 {
		fmt.Fprintf(w, "User%d@Example.com,%d,%s,2024-%02d-%02d,\"note, with comma %d\"\n", i, i%5000, []string{"gold", "silver", "bronze"}[i%3], 1+i%12, 1+i%28, i)
	}
	w.Flush()
	f.Close()
	p := h.compile(map[string]string{"campaign.yaml": lfCampaign(`    columns:
      - { name: email, required: true, transform: lower }
      - { name: points, type: integer }
      - { name: tier }
      - { name: joined, type: date, format: "2006-01-02" }
      - { name: note }
`), "catalog.yaml": lfCatalog})
	file := filepath.Join(dir, "big.csv")
	b.ResetTimer()
	for i := range b.N {
		res, err := h.run(h.env, p, request(p, "f", fmt.Sprintf("bench-%d", i), false, map[string]any{"file": file}))
		if err != nil || res.Counts["out"] != 1_000_000 {
			b.Fatalf("%v %v", err, res)
		}
	}
}

// BenchmarkUpdateData upserts 100k rows (half new) into a 1M-row table.
func BenchmarkUpdateData(b *testing.B) {
	h := newHome(b)
	dir := b.TempDir()
	if err := sampledata.Generate(context.Background(), dir, sampledata.Options{Customers: 1_000_000}); err != nil {
		b.Fatal(err)
	}
	p := h.compile(map[string]string{"catalog.yaml": fmt.Sprintf(`version: 1
tables:
  - name: customers
    key: [customerId]
    source: %s
    columns:
      - { name: customerId, type: string }
      - { name: email, type: string }
      - { name: loyaltyPoints, type: integer }
      - { name: lastPurchaseAt, type: timestamp }
`, filepath.Join(dir, "customers.parquet")), "campaign.yaml": `version: 1
id: ud-bench
dimension: customers
activities:
  - id: f
    type: load-file
    file: x.parquet
  - id: u
    type: update-data
    from: f
    table: customers
    operation: upsert
    key: { customerId: customerId }
    set:
      loyaltyPoints: { increment: 10 }
      lastPurchaseAt: { now: true }
`, "x.parquet": ""})
	in := h.input("in/bench", "customers", []string{"customerId"},
		"SELECT 'C' || lpad((i * 20)::VARCHAR, 7, '0') AS customerId FROM range(1, 100001) t(i) ORDER BY 1")
	b.ResetTimer()
	for i := range b.N {
		res, err := h.run(h.env, p, request(p, "u", fmt.Sprintf("bench-%d", i), false, nil, in))
		if err != nil || res.Counts["out"] != 100_000 {
			b.Fatalf("%v %v", err, res)
		}
	}
}
