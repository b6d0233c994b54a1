package condition

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

var (
	catalogOnce sync.Once
	catalogVal  *campaign.Catalog
	catalogErr  error
)

// testCatalog loads testdata/catalog.yaml once.
func testCatalog(t testing.TB) *campaign.Catalog {
	t.Helper()
	catalogOnce.Do(func() {
		cat, diags := campaign.LoadCatalog("testdata/catalog.yaml")
		if diags.HasErrors() {
			catalogErr = diags
		}
		catalogVal = cat
	})
	if catalogErr != nil {
		t.Fatalf("catalog: %v", catalogErr)
	}
	return catalogVal
}

func customersSchema(t testing.TB) campaign.Schema {
	tbl, ok := testCatalog(t).Table("customers")
	if !ok {
		t.Fatal("no customers table")
	}
	return tbl.Schema()
}

var testParams = map[string]string{
	"region":   campaign.TypeString,
	"discount": campaign.TypeInteger,
	"ratio":    campaign.TypeNumber,
	"vipOnly":  campaign.TypeBoolean,
	"since":    campaign.TypeDate,
	"cutoff":   campaign.TypeTimestamp,
}

var testVariables = map[string]any{
	"season":    "winter",
	"minAge":    18,
	"countries": []any{"FR", "DE"},
	"threshold": 2.5,
	"launch":    time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), // YAML reads unquoted dates as time.Time
	"nothing":   nil,
	"nested":    map[string]any{"a": 1},
}

func populationEnv(t testing.TB) CheckEnv {
	return CheckEnv{
		Catalog:   testCatalog(t),
		Schema:    customersSchema(t),
		Params:    testParams,
		Variables: testVariables,
		Audiences: map[string]campaign.Schema{
			"vip-2026":   {Dimension: "customers"},
			"big-orders": {Dimension: "purchases"},
		},
		Mode: PopulationMode,
	}
}

var testActivities = map[string][]string{"lapsed": {"out"}, "byValue": {"vip", "others"}}

func testCount(tr campaign.Transition) error {
	ports, ok := testActivities[tr.Activity]
	if !ok {
		return fmt.Errorf("unknown activity %q%s", tr.Activity, campaign.DidYouMean(tr.Activity, []string{"byValue", "lapsed"}))
	}
	if !contains(ports, tr.PortOrOut()) {
		return fmt.Errorf("activity %q has no port %q; ports: %s", tr.Activity, tr.PortOrOut(), strings.Join(ports, ", "))
	}
	return nil
}

func testEnv(t testing.TB) CheckEnv {
	return CheckEnv{Params: testParams, Variables: testVariables, Mode: TestMode, Count: testCount}
}

// parseCond decodes `doc` (a YAML document with a top-level `where`) and
// returns the condition, its source and the decoding diagnostics.
func parseCond(t testing.TB, doc string) (*Condition, *campaign.Source, campaign.Diagnostics) {
	t.Helper()
	src, diags := campaign.Parse("cond.yaml", []byte(doc))
	if diags.HasErrors() {
		t.Fatalf("parse %q: %v", doc, diags)
	}
	n := mapValue(src.Root, "where")
	if n == nil {
		t.Fatalf("no where in %q", doc)
	}
	d := campaign.NewDecoder(src, &diags)
	return Decode(d, n, "where"), src, diags
}

func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// mustCond parses a condition that must decode cleanly.
func mustCond(t testing.TB, doc string) *Condition {
	t.Helper()
	c, _, diags := parseCond(t, doc)
	if len(diags) > 0 {
		t.Fatalf("decode %q: %v", doc, diags)
	}
	return c
}

var paris = mustLoc("Europe/Paris")

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testNow is the morning of the 2026 spring DST change in Paris.
var testNow = time.Date(2026, 3, 29, 10, 30, 0, 0, time.UTC)

func sqlScope(t testing.TB) SQLScope {
	return SQLScope{
		Alias:   "t",
		Schema:  customersSchema(t),
		Catalog: testCatalog(t),
		Relation: func(table string) (string, error) {
			return "v_" + table, nil
		},
		Audience: func(name string) (AudienceRelation, error) {
			if name != "vip-2026" {
				return AudienceRelation{}, fmt.Errorf("no audience %q", name)
			}
			return AudienceRelation{Relation: "aud_vip", Key: []string{"customerId"}}, nil
		},
		Now:        testNow,
		Location:   paris,
		ParamTypes: testParams,
		Params: map[string]any{
			"region": "FR", "discount": int64(10), "ratio": 0.5, "vipOnly": true,
			"since": "2026-01-01", "cutoff": "2026-02-01T08:00:00",
		},
		Variables: testVariables,
	}
}

var (
	sqlWord     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
	sqlKeywords = map[string]bool{
		"SELECT": true, "FROM": true, "AS": true, "WHERE": true, "AND": true, "OR": true, "NOT": true,
		"EXISTS": true, "IN": true, "BETWEEN": true, "LIKE": true, "COALESCE": true, "CAST": true,
		"VARCHAR": true, "BIGINT": true, "DOUBLE": true, "BOOLEAN": true, "DATE": true, "TIMESTAMPTZ": true,
		"IS": true, "NULL": true, "false": true, "max": true, "min": true, "sum": true, "avg": true,
		"count": true, "DISTINCT": true, "starts_with": true, "contains": true, "length": true,
		"JOIN": true, "ON": true, "GROUP": true, "BY": true, "HAVING": true,
		"INTEGER": true, "CASE": true, "WHEN": true, "THEN": true, "ELSE": true, "END": true,
		"year": true, "month": true, "dayofmonth": true, "isodow": true, "timezone": true,
		"pg_timezone_names": true, "name": true,
	}
	generated = regexp.MustCompile(`^l[0-9]+$`)
)

// checkSQLTokens proves that sql is made only of fixed keywords, generated
// aliases, punctuation, the numbers 0 and 1, `?` placeholders and quoted
// identifiers from idents: no value can have reached the text. It also checks
// that there is one placeholder per argument.
func checkSQLTokens(sql string, nargs int, idents map[string]bool) error {
	placeholders := 0
	for i := 0; i < len(sql); {
		rest := sql[i:]
		switch c := sql[i]; {
		case c == ' ':
			i++
		case c == '"':
			j := i + 1
			var name strings.Builder
			for {
				if j >= len(sql) {
					return fmt.Errorf("unterminated identifier at %d", i)
				}
				if sql[j] == '"' {
					if j+1 < len(sql) && sql[j+1] == '"' {
						name.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				name.WriteByte(sql[j])
				j++
			}
			if !idents[name.String()] {
				return fmt.Errorf("identifier %q at %d is not from the catalog", name.String(), i)
			}
			i = j + 1
		case c == '?':
			placeholders++
			i++
		case strings.HasPrefix(rest, "<=") || strings.HasPrefix(rest, ">=") || strings.HasPrefix(rest, "<>"):
			i += 2
		case strings.HasPrefix(rest, "100") && (len(rest) == 3 || rest[3] < '0' || rest[3] > '9'):
			i += 3 // month * 100 + day
		case strings.ContainsRune("(),.=<>*+-", rune(c)):
			i++
		case c == '0' || c == '1':
			if i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9' {
				return fmt.Errorf("number at %d", i)
			}
			i++
		default:
			w := sqlWord.FindString(rest)
			if w == "" || !(sqlKeywords[w] || generated.MatchString(w)) {
				return fmt.Errorf("unexpected text at %d: %.20q", i, rest)
			}
			i += len(w)
		}
	}
	if placeholders != nargs {
		return fmt.Errorf("%d placeholders for %d args", placeholders, nargs)
	}
	return nil
}

// catalogIdents lists every name ToSQL may quote with the test scope.
func catalogIdents(cat *campaign.Catalog, extra ...string) map[string]bool {
	out := map[string]bool{"t": true, "aud_vip": true}
	for _, tb := range cat.Tables {
		out["v_"+tb.Name] = true
		for _, c := range tb.Columns {
			out[c.Name] = true
		}
	}
	for _, e := range extra {
		out[e] = true
	}
	return out
}
