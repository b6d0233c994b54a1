package dataset

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// goRows lets tests take the appender path for every WriteRows.
var goRows = true

// WriteRows writes n rows made in Go as the dataset out. row fills dst (one
// value per column: string, int64, float64, bool, time.Time or nil) for row
// i. The rows go through DuckDB's appender into a scratch table, with no
// text round trip, and the dataset is that table ordered by orderBy (SQL
// over the column names; empty keeps the order of the rows). Like Write, an
// existing dataset is returned as is.
func (e *Engine) WriteRows(ctx context.Context, out Output, cols []Column, n int, row func(i int, dst []driver.Value), orderBy string) (*Manifest, error) {
	if m, err := ReadManifest(ctx, e.store, out.Ref); err == nil {
		return m, nil
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err := out.Ref.Check(); err != nil {
		return nil, err
	}
	if schema, index, ok := goSchema(cols); ok && orderBy == "" && out.Base == nil && goRows {
		// Rows in their order, of types Parquet takes as they are: written
		// from Go, without the appender's per-value calls and a COPY.
		defer traceSQL(time.Now(), "WRITE "+string(out.Ref))
		local := e.scratch("rows") + ".parquet"
		defer os.Remove(local)
		if err := writeGoRows(local, schema, index, cols, n, row); err != nil {
			return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
		}
		return e.commit(ctx, out, local, &Manifest{Columns: slices.Clone(cols), Rows: int64(n)})
	}
	defs := make([]string, len(cols))
	for i, c := range cols {
		t, err := DuckDBType(c)
		if err != nil {
			return nil, err
		}
		defs[i] = QuoteIdent(c.Name) + " " + t
	}
	table := QuoteIdent(fmt.Sprintf("sw_rows_%d", e.seq.Add(1)))
	if err := e.Exec(ctx, "CREATE TABLE "+table+" ("+strings.Join(defs, ", ")+")"); err != nil {
		return nil, err
	}
	defer e.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+table)
	conn, err := e.db.Conn(ctx)
	if err != nil {
		return nil, engineErr(ctx, "append", err)
	}
	err = conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", strings.Trim(table, `"`))
		if err != nil {
			return engineErr(ctx, "append", err)
		}
		vals := make([]driver.Value, len(cols))
		for i := range n {
			clear(vals)
			row(i, vals)
			if err := a.AppendRow(vals...); err != nil {
				a.Close()
				return fmt.Errorf("row %d: %w", i, engineErr(ctx, "append", err))
			}
		}
		return engineErr(ctx, "append", a.Close())
	})
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", out.Ref, err)
	}
	q := "SELECT * FROM " + table
	if orderBy != "" {
		q += " ORDER BY " + orderBy
	}
	return e.Write(ctx, out, q)
}

// Int reads an integer column's value as the engine scans it into any
// (int64, int32, int or float64); anything else, NULL included, is 0.
func Int(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return 0
}
