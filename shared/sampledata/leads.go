package sampledata

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// WriteLeads writes a partner's leads file (CSV: email, points, tier,
// joined) at dst from the customers of the data folder, unless dst exists:
// one line for every fifth customer with an email (each email once), every
// seventh upper-cased, one in fifty an unknown address, one in 250 an
// unreadable points value. It depends only on the customers (the bench
// campaign bench/campaigns/leads.yaml reads it).
func WriteLeads(ctx context.Context, data, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	tmp := dst + ".tmp"
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	e, err := dataset.New(dataset.Options{})
	if err != nil {
		return err
	}
	defer e.Close()
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("email,points,tier,joined\n")
	tiers := []string{"Bronze", "Silver", "Gold"}
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	err = e.Query(ctx, 4096, func(b *dataset.Batch) error {
		for _, r := range b.Rows {
			email := fmt.Sprint(r[0])
			switch {
			case i%50 == 49:
				email = fmt.Sprintf("lead%d@partner.example", i)
			case i%7 == 0:
				email = strings.ToUpper(email)
			}
			points := fmt.Sprint(i * 37 % 500)
			if i%250 == 249 {
				points = "n/a"
			}
			fmt.Fprintf(w, "%s,%s,%s,%s\n", email, points, tiers[i%3], day.AddDate(0, 0, i%300).Format(time.DateOnly))
			i++
		}
		return nil
	}, `SELECT email FROM read_parquet(`+dataset.QuoteLiteral(filepath.Join(data, "customers.parquet"))+`)
WHERE email IS NOT NULL AND CAST(substr(customerId, 2) AS BIGINT) % 5 = 0
QUALIFY row_number() OVER (PARTITION BY email ORDER BY customerId) = 1
ORDER BY customerId`)
	if err != nil {
		return fmt.Errorf("leads: %w", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
