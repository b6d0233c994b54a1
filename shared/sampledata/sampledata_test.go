package sampledata_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/sampledata"
)

var ctx = context.Background()

var sampleToday = time.Date(2026, 11, 30, 15, 4, 5, 0, time.UTC)

var sampleFiles = []string{"customers.parquet", "purchases.parquet", "stores.parquet", "catalog.yaml"}

func TestGenerateSample(t *testing.T) {
	const n = 10000
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	for i, dir := range dirs {
		seed := uint64(7)
		if i == 2 {
			seed = 8
		}
		if err := sampledata.Generate(ctx, dir, sampledata.Options{Customers: n, Seed: seed, Today: sampleToday, Threads: 2}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(dir, f string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, f := range sampleFiles {
		if !bytes.Equal(read(dirs[0], f), read(dirs[1], f)) {
			t.Errorf("%s differs between two runs with the same options", f)
		}
	}
	if bytes.Equal(read(dirs[0], "customers.parquet"), read(dirs[2], "customers.parquet")) {
		t.Error("another seed gives the same customers")
	}
	dir := dirs[0]

	// The catalog is valid and matches the files: staging every table
	// with its declared columns works, and the files' own types agree.
	cat, diags := campaign.LoadCatalog(filepath.Join(dir, "catalog.yaml"))
	if diags.HasErrors() {
		t.Fatalf("catalog: %v", diags)
	}
	e, err := dataset.New(dataset.Options{WorkDir: t.TempDir(), Threads: 2, MemoryLimit: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, tb := range cat.Tables {
		declared, err := e.StageSource(ctx, tb.Name, dataset.Source{Location: cat.Resolve(tb.Source), Columns: tb.Columns})
		if err != nil {
			t.Fatalf("%s: %v", tb.Name, err)
		}
		own, err := e.StageSource(ctx, "raw_"+tb.Name, dataset.Source{Location: cat.Resolve(tb.Source)})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(own) != fmt.Sprint(declared) {
			t.Errorf("%s: file columns %v, catalog %v", tb.Name, own, declared)
		}
	}

	// Distributions: each check is a SQL expression that must be true.
	today := "TIMESTAMPTZ '2026-11-30 00:00:00Z'"
	checks := []string{
		fmt.Sprintf(`(SELECT count(*) = %d AND count(DISTINCT customerId) = %d AND min(customerId) = 'C0000001' AND max(customerId) = 'C0010000' FROM customers)`, n, n),
		`(SELECT count(*) BETWEEN 3.9 * 10000 AND 4.1 * 10000 AND count(DISTINCT purchaseId) = count(*) FROM purchases)`,
		`(SELECT max(c) = 8 AND avg(c) BETWEEN 3.9 AND 4.1 FROM (SELECT count(p.purchaseId) AS c FROM customers LEFT JOIN purchases p USING (customerId) GROUP BY customerId))`,
		`(SELECT avg((email IS NULL)::INT) BETWEEN 0.025 AND 0.035 FROM customers)`,
		// About 1% of customers share their email with another one.
		`(SELECT count(*) BETWEEN 70 AND 130 FROM (SELECT email FROM customers WHERE email IS NOT NULL GROUP BY email HAVING count(*) = 2))`,
		`(SELECT count(*) = 0 FROM (SELECT email FROM customers WHERE email IS NOT NULL GROUP BY email HAVING count(*) > 2))`,
		`(SELECT bool_and(regexp_full_match(email, '[a-z._]+[0-9]+@(example\.(com|net|org)|mail\.example|post\.example)')) FROM customers)`,
		`(SELECT avg((phone IS NULL)::INT) BETWEEN 0.07 AND 0.09 AND bool_and(regexp_full_match(phone, '\+[0-9]{10,14}')) FROM customers)`,
		`(SELECT avg((pushToken IS NOT NULL)::INT) BETWEEN 0.38 AND 0.42 AND bool_and(length(pushToken) = 64) FROM customers)`,
		`(SELECT avg(emailOptIn::INT) BETWEEN 0.83 AND 0.87 AND avg(smsOptIn::INT) BETWEEN 0.58 AND 0.62 FROM customers)`,
		`(SELECT bool_and(NOT pushOptIn OR pushToken IS NOT NULL) FROM customers)`,
		`(SELECT avg((tier = 'bronze')::INT) BETWEEN 0.58 AND 0.62 AND avg((tier = 'gold')::INT) BETWEEN 0.09 AND 0.11 FROM customers)`,
		`(SELECT avg((country = 'FR')::INT) BETWEEN 0.23 AND 0.27 AND count(DISTINCT country) = 9 FROM customers)`,
		// Home store: same country and time zone as the customer.
		`(SELECT count(*) = 10000 FROM customers c JOIN stores s ON c.storeId = s.storeId AND c.country = s.country AND c.timezone = s.timezone)`,
		`(SELECT count(*) = 50 AND count(DISTINCT storeId) = 50 AND count(DISTINCT city) = 50 FROM stores)`,
		`(SELECT bool_and((storeId IS NULL) = (channel <> 'store')) AND bool_and(amount > 0) FROM purchases)`,
		`(SELECT count(*) = 0 FROM purchases p LEFT JOIN stores s USING (storeId) WHERE p.storeId IS NOT NULL AND s.storeId IS NULL)`,
		// lastPurchaseAt is the latest purchase, or null without purchases.
		`(SELECT count(*) = 0 FROM customers c LEFT JOIN (SELECT customerId, max(purchasedAt) AS m FROM purchases GROUP BY customerId) p USING (customerId)
			WHERE c.lastPurchaseAt IS DISTINCT FROM p.m)`,
		// Purchases: the last two years, after signup, before the reference date.
		`(SELECT min(purchasedAt) >= ` + today + ` - INTERVAL 732 DAY AND max(purchasedAt) < ` + today + ` FROM purchases)`,
		`(SELECT count(*) = 0 FROM purchases p JOIN customers c USING (customerId) WHERE p.purchasedAt <= c.signupAt)`,
		`(SELECT min(birthDate) >= DATE '2026-11-30' - INTERVAL 86 YEAR AND max(birthDate) <= DATE '2026-11-30' - INTERVAL 18 YEAR FROM customers)`,
		// Birth dates: about 2% missing, 0.5% on 29 February (a birthday campaign's edge case).
		`(SELECT avg((birthDate IS NULL)::INT) BETWEEN 0.015 AND 0.025 FROM customers)`,
		`(SELECT count(*) BETWEEN 35 AND 80 AND bool_and(year(birthDate) BETWEEN 1940 AND 2004) FROM customers WHERE month(birthDate) = 2 AND day(birthDate) = 29)`,
		// A campaign on "purchased within 90 days" finds about 40% of customers.
		`(SELECT avg(coalesce(lastPurchaseAt >= ` + today + ` - INTERVAL 90 DAY, false)::INT) BETWEEN 0.35 AND 0.47 FROM customers)`,
	}
	for _, c := range checks {
		row, err := e.QueryRow(ctx, "SELECT "+c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if row[0] != true {
			t.Errorf("check failed: %s", c)
		}
	}
	var zones []any
	e.Query(ctx, 100, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			zones = append(zones, r[0])
		}
		return nil
	}, "SELECT DISTINCT timezone FROM customers ORDER BY 1")
	for _, z := range zones {
		if _, err := time.LoadLocation(z.(string)); err != nil {
			t.Errorf("time zone %v: %v", z, err)
		}
	}
	if len(zones) < 10 {
		t.Errorf("only %d time zones", len(zones))
	}
}

// BenchmarkGenerateSample1M measures the 1M-customer demo data set:
// go test ./shared/sampledata -run '^$' -bench GenerateSample1M -benchtime 1x
func BenchmarkGenerateSample1M(b *testing.B) {
	for b.Loop() {
		if err := sampledata.Generate(ctx, b.TempDir(), sampledata.Options{Customers: 1_000_000, Seed: 1, Today: sampleToday}); err != nil {
			b.Fatal(err)
		}
	}
}
