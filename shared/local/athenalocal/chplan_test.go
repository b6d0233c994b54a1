package athenalocal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stepwise-run/stepwise/shared/activity/builtin"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/executor"
)

// The channel's plan as an UNLOAD of Trino SQL (channel.AthenaPlan, over
// the population an athena run UNLOADed) gives the rows of the plan a
// duckdb run wrote: the same recipients with the same address, consent,
// time zone, wave, skip reason and row number.
func TestChannelPlanAthenaMatchDuckDB(t *testing.T) {
	dir := workspace(t, customers(3000))
	if err := os.WriteFile(filepath.Join(dir, "channel.yaml"), []byte(channelCampaign), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := runLive(t, dir, "channel.yaml", "catalog-athena.yaml", "home-athena")
	duck := runLive(t, dir, "channel.yaml", "catalog.yaml", "home-duckdb")
	dl, err := executor.Open(filepath.Join(dir, "home-duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	duckPlan := dataset.Ref("runs/" + duck.RunID + "/mail/_plan")
	p, diags := builtin.CompileFiles(filepath.Join(dir, "channel.yaml"), filepath.Join(dir, "catalog-athena.yaml"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	home := filepath.Join(dir, "home-athena")
	l, err := executor.Open(home)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Athena().Ran = func(q string) { ranMu.Lock(); ran = append(ran, q); ranMu.Unlock() }
	ctx := context.Background()
	store := l.Athena().Blob
	run := "runs/" + sum.RunID + "/"
	in := dataset.Ref(run + "subscribers/out")
	im, err := dataset.ReadManifest(ctx, store, in)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := dataset.ReadManifest(ctx, dl.Athena().Blob, duckPlan)
	if err != nil {
		t.Fatal(err)
	}
	db := p.Catalog.Athena.Database
	if err := l.Athena().RegisterTable(ctx, targeting.GlueTable{Database: db, Name: "plan_in", Ref: in, Manifest: im, Columns: im.Columns}); err != nil {
		t.Fatal(err)
	}
	tbl, _ := p.Catalog.Table(im.Dimension)
	a := channel.AthenaPlan{Kind: channel.EmailKind, Config: &channel.Config{}, Input: im.Schema(), Key: im.Key, Table: tbl,
		Relation: dataset.QuoteIdent(db) + "." + dataset.QuoteIdent("plan_in"), PlanAt: pm.CreatedAt}
	if len(a.Key) == 0 {
		a.Key = tbl.Key
	}
	out := dataset.Ref(run + "mail/_plan_athena")
	stmt, err := a.Unload(l.Athena().Location(out.Key(channel.AthenaPlanDir)))
	if err != nil {
		t.Fatal(err)
	}
	input, _ := json.Marshal(map[string]any{"QueryString": stmt, "WorkGroup": "primary",
		"QueryExecutionContext": map[string]any{"Database": db}, "ResultConfiguration": map[string]any{"OutputLocation": "s3://stepwise-local/athena-results/"}})
	if _, err := l.Athena().QuerySync(ctx, input); err != nil {
		t.Fatalf("%v\n%s", err, stmt)
	}
	files, _ := filepath.Glob(filepath.Join(home, "blob", filepath.FromSlash(out.Key(channel.AthenaPlanDir)), "part-*"))
	if len(files) != 1 {
		t.Fatalf("UNLOAD output: %v", files)
	}
	eng, err := dataset.New(dataset.Options{Store: dl.Athena().Blob, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if _, err := eng.StageDataset(ctx, "duck", duckPlan); err != nil {
		t.Fatal(err)
	}
	// The wave is a timestamp with time zone on DuckDB, a UTC timestamp on
	// Trino: compared as instants.
	var names []string
	for _, c := range im.Columns {
		names = append(names, dataset.QuoteIdent(c.Name))
	}
	rows := func(rel string) string {
		return "SELECT " + strings.Join(names, ", ") + ", _sw_address, _sw_consent, _sw_tz, _sw_skip, _sw_row, epoch(_sw_wave) AS wave FROM " + rel
	}
	athena := "read_parquet(" + dataset.QuoteLiteral(files[0]) + ")"
	row, err := eng.QueryRow(ctx, "SELECT (SELECT count(*) FROM duck), (SELECT count(*) FROM "+athena+"), "+
		"(SELECT count(*) FROM ("+rows("duck")+" EXCEPT ALL "+rows(athena)+")), (SELECT count(*) FROM ("+rows(athena)+" EXCEPT ALL "+rows("duck")+")), "+
		"(SELECT count(DISTINCT _sw_row) = count(*) AND min(_sw_row) = 0 AND max(_sw_row) = count(*) - 1 FROM "+athena+")")
	if err != nil {
		t.Fatal(err)
	}
	n, m := dataset.Int(row[0]), dataset.Int(row[1])
	if n < 300 || n != m || dataset.Int(row[2]) != 0 || dataset.Int(row[3]) != 0 || row[4] != true {
		t.Fatalf("duckdb plan %d rows, athena %d; %v only in duckdb's, %v only in athena's; dense row numbers %v", n, m, row[2], row[3], row[4])
	}
	// Recorded from the footers, the UNLOAD's files are the plan a slice's
	// send reads by position: each window holds its row numbers in order,
	// and the same recipients as the DuckDB plan's window.
	am, err := channel.RecordAthenaPlan(ctx, store, out, im.Schema(), a.Key, pm.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	shape := func(m *dataset.Manifest) (s []string) {
		for _, c := range m.Columns {
			s = append(s, c.Name+" "+c.Type)
		}
		return s
	}
	if am.Rows != pm.Rows || !reflect.DeepEqual(shape(am), shape(pm)) {
		t.Fatalf("recorded plan: %d rows %v\nduckdb plan: %d rows %v", am.Rows, am.Columns, pm.Rows, pm.Columns)
	}
	aeng, err := dataset.New(dataset.Options{Store: store, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer aeng.Close()
	window := func(eng *dataset.Engine, ref dataset.Ref, off, n int64) []string {
		var got []string
		_, err := eng.Stream(ctx, ref, dataset.StreamOptions{Columns: []string{"_sw_row", a.Key[0], "_sw_address"}, Offset: off, Limit: n}, func(b *dataset.Batch) error {
			for _, r := range b.Rows {
				if dataset.Int(r[0]) != off+int64(len(got)) {
					t.Errorf("%s: row %d at position %d", ref, dataset.Int(r[0]), off+int64(len(got)))
				}
				got = append(got, fmt.Sprint(r[1], r[2]))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	for _, off := range []int64{0, 150, n - 100} {
		d, at := window(eng, duckPlan, off, 150), window(aeng, out, off, 150)
		if len(at) == 0 || !reflect.DeepEqual(d, at) {
			t.Errorf("window at %d: duckdb %d rows, athena %d, differ", off, len(d), len(at))
		}
	}
	var size int64
	if st, err := os.Stat(files[0]); err == nil {
		size = st.Size()
	}
	t.Logf("%d plan rows alike (planned at %s); the UNLOAD's file %d bytes, %.0f a row", n, pm.CreatedAt.Format(time.RFC3339), size, float64(size)/float64(n))
}

// An empty population's plan on Athena: the UNLOAD writes no row, the
// plan records none, and the channel sends nobody on both engines.
func TestChannelPlanAthenaEmpty(t *testing.T) {
	dir := workspace(t, customers(300))
	c := strings.Replace(channelCampaign, "where: { field: emailOptIn, op: eq, value: true }", "where: { field: customerId, op: eq, value: nobody }", 1)
	if err := os.WriteFile(filepath.Join(dir, "channel.yaml"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
	duck := runLive(t, dir, "channel.yaml", "catalog.yaml", "home-duckdb")
	ath := runLive(t, dir, "channel.yaml", "catalog-athena.yaml", "home-athena")
	if !reflect.DeepEqual(ports(duck), ports(ath)) || ath.Activities["mail"].Status != "succeeded" {
		t.Fatalf("duckdb %v\nathena %v %+v", ports(duck), ports(ath), ath.Activities["mail"])
	}
	if _, err := os.Stat(filepath.Join(dir, "home-athena", "blob", "runs", ath.RunID, "mail", "_plan", "athena")); err != nil {
		t.Errorf("no UNLOAD: %v", err)
	}
}
