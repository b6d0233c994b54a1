package condition

import (
	"os"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// TestSemanticsFixture keeps testdata/semantics.yaml valid: every case
// checks and lowers. Packages that execute the SQL (DuckDB) run its rows and
// expected results; this package cannot import DuckDB.
func TestSemanticsFixture(t *testing.T) {
	data, err := os.ReadFile("testdata/semantics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src, diags := campaign.Parse("testdata/semantics.yaml", data)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var sem struct {
		Now        string                      `json:"now"`
		Timezone   string                      `json:"timezone"`
		Params     map[string]any              `json:"params"`
		ParamTypes map[string]string           `json:"paramTypes"`
		Variables  map[string]any              `json:"variables"`
		Audiences  map[string][]string         `json:"audiences"`
		Tables     map[string][]map[string]any `json:"tables"`
		Cases      []struct {
			Where *Condition `json:"where"`
			Want  []string   `json:"want"`
		} `json:"cases"`
	}
	d := campaign.NewDecoder(src, &diags)
	d.Decode(src.Root, "", &sem)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now, err := time.Parse(time.RFC3339, sem.Now)
	if err != nil {
		t.Fatal(err)
	}
	loc := mustLoc(sem.Timezone)
	ids := map[string]bool{}
	for _, row := range sem.Tables["customers"] {
		ids[row["customerId"].(string)] = true
	}
	cat := testCatalog(t)
	customers, _ := cat.Table("customers")
	sc := SQLScope{
		Alias: "t", Schema: customers.Schema(), Catalog: cat,
		Relation: func(table string) (string, error) { return "v_" + table, nil },
		Audience: func(name string) (AudienceRelation, error) {
			return AudienceRelation{Relation: "aud_" + name, Key: []string{"customerId"}}, nil
		},
		Now: now, Location: loc, ParamTypes: sem.ParamTypes, Params: sem.Params, Variables: sem.Variables,
	}
	env := CheckEnv{Catalog: cat, Schema: customers.Schema(), Params: sem.ParamTypes, Variables: sem.Variables, Mode: PopulationMode,
		Audiences: map[string]campaign.Schema{}}
	for name := range sem.Audiences {
		env.Audiences[name] = campaign.Schema{Dimension: "customers"}
	}
	if len(sem.Cases) < 50 {
		t.Errorf("only %d cases", len(sem.Cases))
	}
	for i, c := range sem.Cases {
		path := campaign.JoinPath(campaign.JoinPath("cases", i), "where")
		var cd campaign.Diagnostics
		Check(campaign.Reporter{Src: src, Diags: &cd}, path, c.Where, env)
		if len(cd) > 0 {
			t.Errorf("%v", cd)
			continue
		}
		if _, _, err := ToSQL(c.Where, sc); err != nil {
			t.Errorf("%s: %v", src.PosOf(path), err)
		}
		for _, id := range c.Want {
			if !ids[id] {
				t.Errorf("%s: unknown customer %q", src.PosOf(path), id)
			}
		}
	}
}
