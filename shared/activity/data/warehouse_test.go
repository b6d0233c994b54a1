package data_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/compile"
	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/state"
)

// Three homes (each its own run store and state store: three laptops, or
// three stacks) share one catalog warehouse and add 11 to a customer's
// points at the same time. The table ends 33 higher, in one history that
// every home reads; a reader during the writes only ever sees whole
// versions.
func TestHomesShareAWarehouse(t *testing.T) {
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		shareWarehouse(t, dir, func() blob.Store { return mountedWarehouse(t, dir) }, false)
		// The folder is the warehouse: a table is a folder in it.
		if _, err := os.Stat(filepath.Join(dir, "customers", "commits")); err != nil {
			t.Errorf("no %s: %v", filepath.Join(dir, "customers", "commits"), err)
		}
		if _, err := os.Stat(filepath.Join(dir, "warehouse")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists: tables were written one level down", filepath.Join(dir, "warehouse"))
		}
	})
	t.Run("s3", func(t *testing.T) {
		ts := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server())
		t.Cleanup(ts.Close)
		shareWarehouse(t, "s3://bucket/wh", func() blob.Store {
			client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
			return s3blob.New(client, "bucket", "wh/")
		}, true)
	})
}

const winback = `  - id: u_winback
    type: update-data
    from: f
    table: customers
    operation: update
    key: { customerId: id }
    set:
      points: { increment: 11 }
`

func shareWarehouse(t *testing.T, warehouse string, open func() blob.Store, service bool) {
	const homes = 3
	files := map[string]string{
		"campaign.yaml": udCampaign + winback,
		"catalog.yaml":  strings.Replace(udCatalog, "version: 1\n", "version: 1\nwarehouse: "+warehouse+"\n", 1),
		"customers.csv": udCustomers,
	}
	hs := make([]*home, homes)
	ps := make([]*compile.Program, homes)
	ins := make([]activity.Input, homes)
	for i := range hs {
		hs[i] = newHome(t)
		ps[i] = hs[i].compile(files)
		if service { // an s3:// warehouse is the host's Warehouse store
			hs[i].env.deps.Data.Warehouse = open()
		}
		ins[i] = hs[i].rowsInput("in/w", [4]string{"C1", "", "", ""})
	}

	// A reader on home 0 reads the table again and again while the writers run.
	reader := newWarehouseReader(t, hs[0], open())
	stop := make(chan struct{})
	readerDone := make(chan []int64)
	go func() {
		var seen []int64
		for {
			select {
			case <-stop:
				readerDone <- seen
				return
			default:
			}
			seen = append(seen, reader.read(t))
		}
	}()

	var wg sync.WaitGroup
	errs := make([]error, homes)
	var conflicts atomic.Int64
	start := make(chan struct{})
	for i := range homes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				_, err := hs[i].run(hs[i].env, ps[i], request(ps[i], "u_winback", fmt.Sprintf("r-home%d", i), false, nil, ins[i]))
				var c *activity.Conflict
				if errors.As(err, &c) { // Step Functions retries Conflict
					conflicts.Add(1)
					continue
				}
				errs[i] = err
				return
			}
		}()
	}
	close(start)
	wg.Wait()
	close(stop)
	seen := <-readerDone
	for i, err := range errs {
		if err != nil {
			t.Fatalf("home %d: %v", i, err)
		}
	}
	// C1 had 10 points.
	for i, h := range hs {
		r := newWarehouseReader(t, h, open())
		if got := r.read(t); got != 43 {
			t.Errorf("home %d reads C1 at %d points, want 43 (10 + 3×11)", i, got)
		}
		if r.version.Version != homes {
			t.Errorf("home %d reads version %d, want %d", i, r.version.Version, homes)
		}
	}
	// The reader saw whole versions only, never going back.
	for j, p := range seen {
		if !slices.Contains([]int64{10, 21, 32, 43}, p) || j > 0 && p < seen[j-1] {
			t.Fatalf("reader saw C1 at %v points", seen)
		}
	}
	t.Logf("%d reads; %d conflicts surfaced to the retry loop", len(seen), conflicts.Load())
}

// warehouseReader reads C1's points from the current version of customers
// in a shared warehouse, as the home's tasks do.
type warehouseReader struct {
	eng     *dataset.Engine
	log     *tablelog.Log
	version state.TableVersion
	n       int
}

func newWarehouseReader(t *testing.T, h *home, wh blob.Store) *warehouseReader {
	eng, err := h.newEnv(nil).engine()
	if err != nil {
		t.Fatal(err)
	}
	return &warehouseReader{eng: eng.On(wh), log: tablelog.New(wh, h.state)}
}

func (r *warehouseReader) read(t *testing.T) int64 {
	ctx := context.Background()
	v, err := r.log.CurrentTable(ctx, "customers")
	if errors.Is(err, state.ErrNotFound) {
		return 10 // the catalog source
	}
	if err != nil {
		t.Error(err)
		return -1
	}
	r.version, r.n = v, r.n+1
	view := fmt.Sprintf("wr_%d", r.n)
	if _, err := r.eng.StageDataset(ctx, view, dataset.Ref(v.Ref)); err != nil {
		t.Errorf("version %d: %v", v.Version, err)
		return -1
	}
	defer r.eng.Exec(ctx, "DROP VIEW "+view)
	row, err := r.eng.QueryRow(ctx, "SELECT count(*), max(points) FILTER (WHERE customerId = 'C1') FROM "+view)
	if err != nil {
		t.Errorf("version %d: %v", v.Version, err)
		return -1
	}
	if row[0].(int64) != 5 {
		t.Errorf("version %d has %d rows, want 5", v.Version, row[0])
	}
	return row[1].(int64)
}

// A home whose table head an older release kept in its state store: the
// next update builds on that version, the history moves to the warehouse,
// and a task that committed under the older release is not applied again
// when it is retried.
func TestUpdateDataMigratesLegacyHead(t *testing.T) {
	h, p := udSetup(t)
	ctx := context.Background()
	// Version 1, committed the old way by run r-old: C1 at 100 points.
	ref := data.VersionRef("customers", 1, "r-old", "u_count")
	if _, err := h.engine().Write(ctx, dataset.Output{Ref: dataset.Ref(ref), Dimension: "customers", Key: []string{"customerId"}},
		"SELECT 'C1' AS customerId, 'a@x.com' AS email, 'bronze' AS tier, 100 AS points, 1.5 AS score, true AS optIn, "+
			"CAST(NULL AS TIMESTAMP) AS lastContactAt, CAST(NULL AS DATE) AS lastContactOn, CAST(NULL AS VARCHAR) AS note"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.state.CommitTable(ctx, "customers", 0, ref, runNow); err != nil {
		t.Fatal(err)
	}
	in := h.rowsInput("in/m", [4]string{"C1", "", "", ""})
	// The retried old task finds its commit in the state store's history.
	if _, err := h.run(h.env, p, request(p, "u_count", "r-old", false, nil, in)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.run(h.env, p, request(p, "u_count", "r-new", false, nil, in)); err != nil {
		t.Fatal(err)
	}
	equal(t, "C1", h.tableRows("customers", "SELECT points FROM v"), []string{"101"})
	hist, err := h.tables().TableHistory(ctx, "customers")
	if err != nil || len(hist) != 2 || hist[1].Ref != ref || hist[0].Version != 2 {
		t.Fatalf("warehouse history %+v, %v", hist, err)
	}
}

// mountedWarehouse reads a catalog warehouse folder the way a home does: the
// folder holds the keys under warehouse/.
func mountedWarehouse(t *testing.T, dir string) blob.Store {
	t.Helper()
	s, err := folderblob.Mounted(dir, tablelog.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Tables an earlier release wrote one level down (dir/warehouse/customers)
// are moved up on first use and keep their history; a table found in both
// places is an error that names both, and nothing is moved.
func TestWarehouseFolderMovesUp(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"campaign.yaml": udCampaign + winback,
		"catalog.yaml":  strings.Replace(udCatalog, "version: 1\n", "version: 1\nwarehouse: "+dir+"\n", 1),
		"customers.csv": udCustomers,
	}
	update := func(h *home, run string) error {
		p := h.compile(files)
		_, err := h.run(h.env, p, request(p, "u_winback", run, false, nil, h.rowsInput("in/w", [4]string{"C1", "", "", ""})))
		return err
	}
	if err := update(newHome(t), "r1"); err != nil {
		t.Fatal(err)
	}
	// The layout before: every table one level down.
	legacy := filepath.Join(dir, "warehouse")
	os.MkdirAll(legacy, 0o700)
	if err := os.Rename(filepath.Join(dir, "customers"), filepath.Join(legacy, "customers")); err != nil {
		t.Fatal(err)
	}
	h := newHome(t)
	if err := update(h, "r2"); err != nil {
		t.Fatal(err)
	}
	r := newWarehouseReader(t, h, mountedWarehouse(t, dir))
	if got := r.read(t); got != 32 || r.version.Version != 2 {
		t.Fatalf("C1 at %d points in version %d, want 32 in version 2 (history kept)", got, r.version.Version)
	}
	if _, err := os.Stat(legacy); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s is still there after the move", legacy)
	}

	// Both places: refused, naming both.
	os.MkdirAll(filepath.Join(legacy, "customers", "commits"), 0o700)
	err := update(newHome(t), "r3")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(legacy, "customers")) || !strings.Contains(err.Error(), filepath.Join(dir, "customers")) {
		t.Fatalf("table in both places: %v, want an error naming both folders", err)
	}
}
