package condition

import (
	"errors"
	"fmt"
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

// ErrNotOnAthena marks a condition the Trino dialect cannot lower yet.
var ErrNotOnAthena = errors.New("not yet on athena")

func notOnAthena(what string) error { return fmt.Errorf("condition: %w: %s", ErrNotOnAthena, what) }

// typeName is a cast target: Trino spells TIMESTAMPTZ out (DuckDB reads
// both spellings).
func (d Dialect) typeName(t string) string {
	if d == Trino && t == "TIMESTAMPTZ" {
		return "TIMESTAMP WITH TIME ZONE"
	}
	return t
}

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
