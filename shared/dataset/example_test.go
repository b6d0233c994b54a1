package dataset_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// An activity handler stages its inputs as views, composes SQL over them with
// bound parameters, writes its output dataset, and reports the row count.
func Example() {
	ctx := context.Background()
	home, _ := os.MkdirTemp("", "stepwise-example-")
	defer os.RemoveAll(home)
	store, _ := folderblob.New(home)
	e, err := dataset.New(dataset.Options{Store: store, WorkDir: home})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	// An upstream activity's output (here made up from nothing).
	in := dataset.PortRef("run-1", "lapsed", "out")
	e.Write(ctx, dataset.Output{Ref: in, Dimension: "customers", Key: []string{"customerId"}},
		`SELECT 'C' || i AS customerId, i * 100 AS spend FROM range(1, 6) t(i) ORDER BY i`)

	// The handler.
	if _, err := e.StageDataset(ctx, "lapsed", in); err != nil {
		log.Fatal(err)
	}
	out := dataset.PortRef("run-1", "byValue", "vip")
	m, err := e.Write(ctx, dataset.Output{Ref: out, Dimension: "customers", Key: []string{"customerId"}},
		`SELECT * FROM lapsed WHERE spend >= ? ORDER BY customerId`, 300)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out, m.Rows, m.Columns[1].Type)

	// A channel reads the recipients in batches.
	e.Stream(ctx, out, dataset.StreamOptions{BatchSize: 2}, func(b *dataset.Batch) error {
		fmt.Println(b.Rows)
		return nil
	})
	// Output:
	// runs/run-1/byValue/vip 3 integer
	// [[C3 300] [C4 400]]
	// [[C5 500]]
}
