package condition

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// compare lowers `lhs op values` of a comparison; field values are read on
// the rows aliased alias.
func (l *lowerer) compare(lhs frag, cmp *Compare, alias string) (frag, error) {
	typ, op := cmp.Type, cmp.Op
	out := frag{args: append([]any(nil), lhs.args...)}
	if op == "isEmpty" || op == "isNotEmpty" {
		if typ == campaign.TypeString {
			sym := "="
			if op == "isNotEmpty" {
				sym = ">"
			}
			out.sql = "(COALESCE(length(" + lhs.sql + "), 0) " + sym + " 0)"
		} else {
			out.sql = "(" + lhs.sql + " IS NULL)"
			if op == "isNotEmpty" {
				out.sql = "(" + lhs.sql + " IS NOT NULL)"
			}
		}
		return out, nil
	}
	vals, err := l.operands(cmp.Values, typ, alias)
	if err != nil {
		return frag{}, err
	}
	if err := arityFits(op, len(vals)); err != nil {
		return frag{}, err
	}
	sqls := make([]string, len(vals))
	for i, v := range vals {
		sqls[i] = v.sql
		out.args = append(out.args, v.args...)
	}
	var sql string
	switch op {
	case "eq", "ne", "gt", "gte", "lt", "lte":
		sym := map[string]string{"eq": "=", "ne": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
		sql = lhs.sql + " " + sym + " " + sqls[0]
	case "in":
		sql = lhs.sql + " IN (" + strings.Join(sqls, ", ") + ")"
	case "notIn":
		sql = lhs.sql + " NOT IN (" + strings.Join(sqls, ", ") + ")"
	case "between":
		sql = lhs.sql + " BETWEEN " + sqls[0] + " AND " + sqls[1]
	case "startsWith":
		sql = "starts_with(" + lhs.sql + ", " + sqls[0] + ")"
	case "notStartsWith":
		sql = "NOT starts_with(" + lhs.sql + ", " + sqls[0] + ")"
	case "contains":
		sql = l.sc.Dialect.contains(lhs.sql, sqls[0])
	case "notContains":
		sql = "NOT " + l.sc.Dialect.contains(lhs.sql, sqls[0])
	case "like":
		sql = lhs.sql + " LIKE " + sqls[0]
	case "notLike":
		sql = lhs.sql + " NOT LIKE " + sqls[0]
	default:
		return frag{}, fmt.Errorf("condition: unknown operator %q", op)
	}
	out.sql = "COALESCE(" + sql + ", false)"
	return out, nil
}

// arityFits reports an operator given a wrong number of values.
func arityFits(op string, n int) error {
	switch arityOf(op) {
	case oneValue:
		if n != 1 {
			return fmt.Errorf("condition: %s takes one value", op)
		}
	case pairValue:
		if n != 2 {
			return errors.New("condition: between takes two values")
		}
	case listValue:
		if n == 0 {
			return fmt.Errorf("condition: %s needs at least one value", op)
		}
	}
	return nil
}

// operands lowers the values of a comparison with a subject of type typ.
func (l *lowerer) operands(vals []Operand, typ, alias string) ([]frag, error) {
	out := make([]frag, len(vals))
	for i, v := range vals {
		f, err := l.operand(v, typ, alias)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// operand lowers one value compared with a subject of type typ.
func (l *lowerer) operand(v Operand, typ, alias string) (frag, error) {
	switch v := v.(type) {
	case Const:
		return l.bind(typ, v.Value)
	case *FieldRef:
		return l.field(alias, v)
	case *ParamRef:
		raw := l.sc.Params[v.Name]
		if raw == nil {
			return l.bind(typ, nil)
		}
		x, err := campaign.CoerceParam(v.Type, raw)
		if err != nil {
			return frag{}, fmt.Errorf("condition: parameter %q: %w", v.Name, err)
		}
		return l.bind(typ, x)
	case *RelTime:
		if l.sc.Now.IsZero() {
			return frag{}, errors.New("condition: relative times need SQLScope.Now")
		}
		return l.bindTime(typ, v.at(l.sc.Now, l.loc))
	}
	return frag{}, fmt.Errorf("condition: %T is not a value", v)
}

// at is the instant of r for a run started at now in loc.
func (r *RelTime) at(now time.Time, loc *time.Location) time.Time {
	t := now
	if r.Ago != 0 {
		t = shift(t, loc, r.Ago, -1)
	}
	if r.Ahead != 0 {
		t = shift(t, loc, r.Ahead, 1)
	}
	return t
}

func placeholder(sqlType string, arg any) (frag, error) {
	return frag{sql: "CAST(? AS " + sqlType + ")", args: []any{arg}}, nil
}

// placeholder is a bound value cast to sqlType, in the lowerer's dialect.
func (l *lowerer) placeholder(sqlType string, arg any) (frag, error) {
	return placeholder(l.sc.Dialect.typeName(sqlType), arg)
}

// bind binds a constant compared with a subject of column type typ.
func (l *lowerer) bind(typ string, x any) (frag, error) {
	x, err := constant(x)
	if err != nil {
		return frag{}, fmt.Errorf("condition: %w", err)
	}
	mismatch := func() (frag, error) {
		return frag{}, fmt.Errorf("condition: %s does not compare with a %s", show(x), typ)
	}
	switch typ {
	case campaign.TypeString:
		if _, ok := x.(string); !ok && x != nil {
			return mismatch()
		}
		return l.placeholder("VARCHAR", x)
	case campaign.TypeInteger, campaign.TypeNumber, campaign.TypeDecimal:
		switch x.(type) {
		case int64:
			return l.placeholder("BIGINT", x)
		case float64, nil:
			return l.placeholder("DOUBLE", x)
		}
		return mismatch()
	case campaign.TypeBoolean:
		if _, ok := x.(bool); !ok && x != nil {
			return mismatch()
		}
		return l.placeholder("BOOLEAN", x)
	case campaign.TypeDate:
		if x == nil {
			return l.placeholder("DATE", nil)
		}
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		if _, ok := parseDate(s); !ok {
			return frag{}, fmt.Errorf("condition: invalid date %q: use YYYY-MM-DD", s)
		}
		return l.placeholder("DATE", s)
	case campaign.TypeTimestamp:
		if x == nil {
			return l.placeholder("TIMESTAMPTZ", nil)
		}
		s, ok := x.(string)
		if !ok {
			return mismatch()
		}
		t, err := parseInstant(s, l.loc)
		if err != nil {
			return frag{}, fmt.Errorf("condition: %w", err)
		}
		return l.bindTime(typ, t)
	}
	return mismatch()
}

// bindTime binds an instant compared with a date or timestamp subject.
func (l *lowerer) bindTime(typ string, t time.Time) (frag, error) {
	switch typ {
	case campaign.TypeDate:
		return l.placeholder("DATE", t.In(l.loc).Format("2006-01-02"))
	case campaign.TypeTimestamp:
		return l.placeholder("TIMESTAMPTZ", l.sc.Dialect.timestamp(t))
	}
	return frag{}, fmt.Errorf("condition: a time does not compare with a %s", typ)
}
