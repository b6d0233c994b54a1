package dataset

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Column is a named, typed column; Type is a Stepwise type (campaign.TypeString...).
type Column = campaign.Column

// maxDecimalScale is the largest scale a decimal column may have.
const maxDecimalScale = 18

// DuckDBType returns the DuckDB type that stores a column of the given
// Stepwise type: string VARCHAR, integer BIGINT, number DOUBLE, decimal
// DECIMAL(18,scale), boolean BOOLEAN, date DATE, timestamp TIMESTAMPTZ (the
// engine's session time zone is UTC), json JSON.
func DuckDBType(c Column) (string, error) {
	switch c.Type {
	case campaign.TypeString:
		return "VARCHAR", nil
	case campaign.TypeInteger:
		return "BIGINT", nil
	case campaign.TypeNumber:
		return "DOUBLE", nil
	case campaign.TypeDecimal:
		if c.Scale < 0 || c.Scale > maxDecimalScale {
			return "", fmt.Errorf("column %q: decimal scale %d out of range 0..%d", c.Name, c.Scale, maxDecimalScale)
		}
		return fmt.Sprintf("DECIMAL(18,%d)", c.Scale), nil
	case campaign.TypeBoolean:
		return "BOOLEAN", nil
	case campaign.TypeDate:
		return "DATE", nil
	case campaign.TypeTimestamp:
		return "TIMESTAMPTZ", nil
	case campaign.TypeJSON:
		return "JSON", nil
	}
	return "", fmt.Errorf("column %q: unknown type %q", c.Name, c.Type)
}

var decimalRE = regexp.MustCompile(`^DECIMAL\((\d+),\s*(\d+)\)$`)

// FromDuckDBType maps a DuckDB type name (as DESCRIBE or the driver report
// it) to the Stepwise column type that holds its values. Nested types (lists,
// structs, maps) become json; types without a counterpart (UUID, INTERVAL,
// TIME, BLOB, ENUM...) become string.
func FromDuckDBType(name, duckType string) Column {
	c, _ := canonical(name, duckType)
	return c
}

// canonical returns the Stepwise column for a DuckDB type, and the DuckDB type
// to cast to when the stored type is not already the canonical one ("" when
// it is). Datasets store canonical types only, so that every reader and every
// union of datasets sees the same types.
func canonical(name, duckType string) (Column, string) {
	t := strings.ToUpper(strings.TrimSpace(duckType))
	col := func(typ string) Column { return Column{Name: name, Type: typ} }
	switch t {
	case "BOOLEAN":
		return col(campaign.TypeBoolean), ""
	case "BIGINT":
		return col(campaign.TypeInteger), ""
	case "TINYINT", "SMALLINT", "INTEGER", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "HUGEINT", "UHUGEINT", "BIGNUM", "VARINT":
		return col(campaign.TypeInteger), "BIGINT"
	case "DOUBLE":
		return col(campaign.TypeNumber), ""
	case "FLOAT", "REAL":
		return col(campaign.TypeNumber), "DOUBLE"
	case "DATE":
		return col(campaign.TypeDate), ""
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return col(campaign.TypeTimestamp), ""
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATETIME":
		return col(campaign.TypeTimestamp), "TIMESTAMPTZ"
	case "JSON":
		return col(campaign.TypeJSON), ""
	case "VARCHAR":
		return col(campaign.TypeString), ""
	}
	if m := decimalRE.FindStringSubmatch(t); m != nil {
		width, _ := strconv.Atoi(m[1])
		scale, _ := strconv.Atoi(m[2])
		c := Column{Name: name, Type: campaign.TypeDecimal, Scale: scale}
		switch {
		case scale > maxDecimalScale:
			return col(campaign.TypeNumber), "DOUBLE"
		case width == 18:
			return c, ""
		case width < 18:
			return c, fmt.Sprintf("DECIMAL(18,%d)", scale)
		case width == 38:
			return c, ""
		default:
			return c, fmt.Sprintf("DECIMAL(38,%d)", scale)
		}
	}
	if strings.HasSuffix(t, "]") || strings.HasPrefix(t, "STRUCT") || strings.HasPrefix(t, "MAP") || strings.HasPrefix(t, "UNION") {
		return col(campaign.TypeJSON), "JSON"
	}
	return col(campaign.TypeString), "VARCHAR"
}

// projection returns the select list that casts cols (with their DuckDB
// types) to canonical types, and the resulting Stepwise columns.
func projection(names, duckTypes []string) (string, []Column) {
	sel, cols := projectionItems(names, duckTypes)
	return strings.Join(sel, ", "), cols
}

// projectionItems is projection's select list, one item per column.
func projectionItems(names, duckTypes []string) ([]string, []Column) {
	sel := make([]string, len(names))
	cols := make([]Column, len(names))
	for i, n := range names {
		c, cast := canonical(n, duckTypes[i])
		cols[i] = c
		if cast == "" {
			sel[i] = QuoteIdent(n)
		} else {
			sel[i] = fmt.Sprintf("CAST(%s AS %s) AS %s", QuoteIdent(n), cast, QuoteIdent(n))
		}
	}
	return sel, cols
}

// QuoteIdent quotes a SQL identifier (table, view or column name).
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QuoteLiteral quotes a SQL string literal. Prefer bound parameters; this is
// for places DuckDB does not take them (file names in views).
func QuoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// normalizer converts a value scanned by the driver to the plain Go value of
// a Stepwise type: string, int64, float64, json.Number (decimal, exact digits),
// bool, time.Time (UTC; dates at midnight), or for json the decoded value
// (map[string]any, []any, string, float64, bool). NULL is nil.
func normalizer(c Column, duckType string) func(any) any {
	switch c.Type {
	case campaign.TypeInteger:
		return func(v any) any {
			switch x := v.(type) {
			case nil, int64:
				return x
			case *big.Int:
				if x.IsInt64() {
					return x.Int64()
				}
				return json.Number(x.String())
			}
			rv := reflect.ValueOf(v)
			switch rv.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32:
				return rv.Int()
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				if u := rv.Uint(); u <= 1<<63-1 {
					return int64(u)
				}
				return json.Number(strconv.FormatUint(rv.Uint(), 10))
			}
			return v
		}
	case campaign.TypeNumber:
		return func(v any) any {
			if f, ok := v.(float32); ok {
				return float64(f)
			}
			return v
		}
	case campaign.TypeDecimal:
		return func(v any) any {
			if d, ok := v.(duckdb.Decimal); ok {
				return json.Number(decimalString(d.Value, int(d.Scale)))
			}
			return v
		}
	case campaign.TypeDate, campaign.TypeTimestamp:
		return func(v any) any {
			if t, ok := v.(time.Time); ok {
				return t.UTC()
			}
			return v
		}
	case campaign.TypeString:
		uuid := strings.EqualFold(duckType, "UUID")
		return func(v any) any {
			switch x := v.(type) {
			case nil, string:
				return x
			case []byte:
				if uuid && len(x) == 16 {
					h := hex.EncodeToString(x)
					return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
				}
				return string(x)
			case fmt.Stringer:
				return x.String()
			}
			return fmt.Sprint(v)
		}
	}
	return func(v any) any { return v }
}

// decimalString formats an unscaled integer with scale digits after the point.
func decimalString(v *big.Int, scale int) string {
	if v == nil {
		return "0"
	}
	s := new(big.Int).Abs(v).String()
	if scale > 0 {
		if len(s) <= scale {
			s = strings.Repeat("0", scale-len(s)+1) + s
		}
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if v.Sign() < 0 {
		s = "-" + s
	}
	return s
}
