package condition

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect is the SQL dialect a condition is lowered to. One generator serves
// both engines: the dialects differ only in the hooks below, and the SQL
// stays in the subset DuckDB and Trino (Athena) read with the same meaning
// (docs/decisions.md, "Athena engine").
type Dialect int

const (
	// DuckDB is the local engine's dialect (the zero value).
	DuckDB Dialect = iota
	// Trino is Amazon Athena's (engine version 3).
	Trino
)

func (d Dialect) String() string {
	if d == Trino {
		return "trino"
	}
	return "duckdb"
}

// ErrNotOnAthena marks what the Athena engine cannot run yet (the Trino
// dialect now lowers every condition; hosts use it for their inputs).
var ErrNotOnAthena = errors.New("not yet on athena")

// TrinoOnDuckDB defines, as DuckDB macros, the Trino functions the Trino
// dialect writes that DuckDB lacks, with Trino's meaning, so that a local
// stand-in runs Trino SQL on DuckDB: at_timezone(t, z) (the instant t in zone
// z; cast to DATE, its local date there) and day_of_week(d) (ISO: Monday 1 ..
// Sunday 7).
const TrinoOnDuckDB = "CREATE OR REPLACE MACRO at_timezone(t, z) AS timezone(z, t); CREATE OR REPLACE MACRO day_of_week(d) AS isodow(d)"

// typeName is a cast target: Trino spells TIMESTAMPTZ out (DuckDB reads
// both spellings).
func (d Dialect) typeName(t string) string {
	if d == Trino && t == "TIMESTAMPTZ" {
		return "TIMESTAMP WITH TIME ZONE"
	}
	return t
}

// TypeName is a cast target (a DuckDB type name, as dataset.DuckDBType
// writes it) in the dialect.
func (d Dialect) TypeName(t string) string { return d.typeName(t) }

// Timestamp is an instant as the dialect's cast from varchar reads it.
func (d Dialect) Timestamp(t time.Time) string { return d.timestamp(t) }

// contains is true when s holds sub literally: Trino's contains() is for
// arrays; strpos() is in both.
func (d Dialect) contains(s, sub string) string {
	if d == Trino {
		return "(strpos(" + s + ", " + sub + ") > 0)"
	}
	return "contains(" + s + ", " + sub + ")"
}

// timestamp formats a bound instant: Trino's cast from varchar takes
// 'YYYY-MM-DD hh:mm:ss.fff zone', not RFC 3339 (DuckDB reads both).
func (d Dialect) timestamp(t time.Time) string {
	if d == Trino {
		return t.UTC().Format("2006-01-02 15:04:05.000000") + " UTC"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// Inline writes each bound argument into sql as a string literal cast as the
// placeholder was (every placeholder the generator writes is `CAST(? AS
// type)`): Athena's execution parameters are substituted as SQL text too, and
// cannot be an empty list, so a statement Step Functions passes as one string
// carries its values inline. A string literal doubles its quotes; DuckDB and
// Trino read backslashes literally. Identifiers ("...") are skipped.
func Inline(sql string, args []any) (string, error) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch c {
		case '"', '\'':
			j := i + 1
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(sql) {
				return "", errors.New("condition: unterminated quote in SQL")
			}
			b.WriteString(sql[i : j+1])
			i = j
			continue
		case '?':
			if !strings.HasSuffix(b.String(), "CAST(") {
				return "", errors.New("condition: a placeholder outside CAST(? AS type)")
			}
			if n >= len(args) {
				return "", errors.New("condition: more placeholders than arguments")
			}
			lit, err := literal(args[n])
			if err != nil {
				return "", err
			}
			b.WriteString(lit)
			n++
			continue
		}
		b.WriteByte(c)
	}
	if n != len(args) {
		return "", fmt.Errorf("condition: %d arguments for %d placeholders", len(args), n)
	}
	return b.String(), nil
}

// literal is a bound value as an SQL string literal (NULL for nil).
func literal(x any) (string, error) {
	var s string
	switch v := x.(type) {
	case nil:
		return "NULL", nil
	case string:
		s = v
	case int64:
		s = strconv.FormatInt(v, 10)
	case float64:
		s = strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		s = strconv.FormatBool(v)
	default:
		return "", fmt.Errorf("condition: cannot inline a %T", x)
	}
	if strings.ContainsRune(s, 0) {
		return "", errors.New("condition: a value holds a NUL character")
	}
	return "'" + strings.ReplaceAll(s, "'", "''") + "'", nil
}
