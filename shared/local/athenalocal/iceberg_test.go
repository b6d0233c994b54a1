package athenalocal_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/athenalocal"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// A MERGE that fails part way (a value that does not convert, met after
// other rows were changed) leaves the Iceberg table as it was; a statement
// on a table that is not Iceberg is refused, as Athena refuses it.
func TestIcebergStatementAllOrNothing(t *testing.T) {
	ctx := context.Background()
	bs, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ath := &athenalocal.Athena{Blob: bs, NewEngine: func() (*dataset.Engine, error) {
		return dataset.New(dataset.Options{Store: bs, WorkDir: t.TempDir()})
	}}
	defer ath.Close()
	ice := data.IcebergTable{Database: "db", Name: "t", Table: "t", Key: []string{"k"},
		Columns: []campaign.Column{{Name: "k", Type: campaign.TypeString}, {Name: "v", Type: campaign.TypeInteger}}}
	if created, err := ath.RegisterIceberg(ctx, ice); err != nil || !created {
		t.Fatal(created, err)
	}
	if created, _ := ath.RegisterIceberg(ctx, ice); created {
		t.Fatal("registered twice: created again")
	}
	query := func(q string) error {
		in, _ := json.Marshal(map[string]any{"QueryString": q, "WorkGroup": "primary",
			"QueryExecutionContext": map[string]any{"Database": "db"},
			"ResultConfiguration":   map[string]any{"OutputLocation": "s3://stepwise-local/results/"}})
		_, err := ath.QuerySync(ctx, in)
		return err
	}
	if err := query(`INSERT INTO "db"."t" ("k", "v") SELECT * FROM (VALUES ('a', 1), ('b', 2), ('c', 3)) AS x (k, v)`); err != nil {
		t.Fatal(err)
	}
	bad := `MERGE INTO "db"."t" AS b USING (SELECT * FROM (VALUES ('a', '10'), ('b', '20'), ('c', 'x')) AS s (k, v)) AS c ON b."k" = c.k ` +
		`WHEN MATCHED THEN UPDATE SET "v" = CAST(c.v AS BIGINT)`
	if err := query(bad); err == nil || !strings.Contains(err.Error(), "Conversion Error") {
		t.Fatalf("the MERGE: %v, want a conversion error", err)
	}
	if err := query(`DELETE FROM "db"."other"`); err == nil {
		t.Fatal("a DELETE on a table that is not Iceberg ran")
	}
	if err := query(`UNLOAD (SELECT "k", "v" FROM "db"."t") TO 's3://stepwise-local/out/athena/' WITH (format = 'PARQUET', compression = 'SNAPPY')`); err != nil {
		t.Fatal(err)
	}
	keys, _ := blob.Keys(ctx, bs, "out/athena/")
	eng, _ := dataset.New(dataset.Options{Store: bs, WorkDir: t.TempDir()})
	defer eng.Close()
	files := []string{}
	for _, k := range keys {
		files = append(files, k[len("out/"):])
	}
	if _, err := dataset.RecordFiles(ctx, bs, dataset.Output{Ref: "out"}, ice.Columns, files); err != nil {
		t.Fatal(err)
	}
	if _, err := eng.StageDataset(ctx, "v", "out"); err != nil {
		t.Fatal(err)
	}
	row, err := eng.QueryRow(ctx, `SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM v`)
	if err != nil {
		t.Fatal(err)
	}
	if row[0] != "a=1,b=2,c=3" {
		t.Errorf("after the failed MERGE: %v, want a=1,b=2,c=3", row[0])
	}
}
