// Package athenalocal stands in for Amazon Athena and Glue on one machine:
// it registers run datasets as tables and runs the Trino-dialect statements
// the compiler's Athena states carry on DuckDB (the generated SQL keeps to
// the subset both read alike: docs/decisions.md, "Athena engine"). The
// local executor binds it to the targeting family (targeting.Athena) and to
// the interpreter (interp.Athena, and interp.S3 for a distributed Map's
// items and results in the run store).
package athenalocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/targeting"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/condition"
	"github.com/stepwise-run/stepwise/shared/dataset"
)

// Bucket is the S3 bucket that stands for the run store in statements.
const Bucket = "stepwise-local"

// Athena is the stand-in. Its zero value is not usable: set Blob and NewEngine.
type Athena struct {
	// Blob is the run store.
	Blob blob.Store
	// NewEngine opens the DuckDB engine queries run on (once, lazily).
	NewEngine func() (*dataset.Engine, error)
	// Ran, when set, receives each statement as it starts (tests parse
	// them with a Trino parser).
	Ran func(query string)
	// Fail, when set, may refuse a statement before it runs, as Athena
	// refuses a query (tests of failures between statements).
	Fail func(query string) error

	mu      sync.Mutex
	eng     *dataset.Engine
	tables  map[string]targeting.GlueTable // "db.name"
	views   map[string]dataset.Ref         // staged "db.name" → the ref staged
	iceberg map[string]data.IcebergTable   // "db.name": DuckDB tables of the engine
}

var (
	_ targeting.Athena = (*Athena)(nil)
	_ data.Athena      = (*Athena)(nil)
)

// RegisterIceberg stands for an Iceberg table with a DuckDB table of the
// engine, created empty unless there: DuckDB runs each statement as one
// transaction, all or nothing, as an Iceberg snapshot commit is.
func (a *Athena) RegisterIceberg(ctx context.Context, t data.IcebergTable) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name := t.Database + "." + t.Name
	if _, ok := a.iceberg[name]; ok {
		return false, nil
	}
	if err := a.open(ctx); err != nil {
		return false, err
	}
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		typ, err := dataset.DuckDBType(c)
		if err != nil {
			return false, err
		}
		cols[i] = quote(c.Name) + " " + typ
	}
	q := quote(t.Database) + "." + quote(t.Name)
	if err := a.eng.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quote(t.Database)); err != nil {
		return false, err
	}
	if err := a.eng.Exec(ctx, "CREATE OR REPLACE TABLE "+q+" ("+strings.Join(cols, ", ")+")"); err != nil {
		return false, err
	}
	if a.iceberg == nil {
		a.iceberg = map[string]data.IcebergTable{}
	}
	a.iceberg[name] = t
	return true, nil
}

// Location is the URI of a run-store key prefix: s3://stepwise-local/key/.
func (a *Athena) Location(key string) string { return "s3://" + Bucket + "/" + key + "/" }

// GetObject reads s3://stepwise-local/key from the run store (a
// distributed Map's ItemReader).
func (a *Athena) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	if bucket != Bucket {
		return nil, fmt.Errorf("bucket %s: only %s (the run store) is here", bucket, Bucket)
	}
	r, err := a.Blob.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// PutObject writes s3://stepwise-local/key to the run store (a distributed
// Map's ResultWriter).
func (a *Athena) PutObject(ctx context.Context, bucket, key string, body []byte) error {
	if bucket != Bucket {
		return fmt.Errorf("bucket %s: only %s (the run store) is here", bucket, Bucket)
	}
	return a.Blob.Put(ctx, key, bytes.NewReader(body))
}

// RegisterTable records a table (Glue's CreateTable, or UpdateTable when it
// exists).
func (a *Athena) RegisterTable(_ context.Context, t targeting.GlueTable) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tables == nil {
		a.tables = map[string]targeting.GlueTable{}
	}
	a.tables[t.Database+"."+t.Name] = t
	return nil
}

// Close closes the engine.
func (a *Athena) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.eng != nil {
		return a.eng.Close()
	}
	return nil
}

// request is the part of StartQueryExecution's parameters read here.
type request struct {
	QueryString           string
	WorkGroup             string
	QueryExecutionContext struct{ Database string }
	ResultConfiguration   struct{ OutputLocation string }
}

// Unload matches the statements the compiler's Athena states carry: the
// SELECT and the run-store location.
var Unload = regexp.MustCompile(`(?s)^UNLOAD \((.*)\) TO '(s3://[^']*)' WITH \(format = 'PARQUET', compression = 'SNAPPY'\)$`)

// orderedBy matches a SELECT ending in an ORDER BY of columns (the
// channel plan's, by its row number).
var orderedBy = regexp.MustCompile(` ORDER BY [A-Za-z0-9_", ]+$`)

// QueryError is a failed query: Step Functions names it States.TaskFailed
// and its cause is the query execution, with Athena's reason.
type QueryError struct {
	ID, Reason string
}

func (e *QueryError) Error() string     { return "athena query " + e.ID + " failed: " + e.Reason }
func (e *QueryError) ErrorName() string { return "States.TaskFailed" }
func (e *QueryError) ErrorCause() string {
	b, _ := json.Marshal(map[string]any{"QueryExecution": map[string]any{"QueryExecutionId": e.ID,
		"Status": map[string]any{"State": "FAILED", "StateChangeReason": e.Reason}}})
	return string(b)
}

// QuerySync runs an UNLOAD statement to its end, as
// athena:startQueryExecution.sync does.
func (a *Athena) QuerySync(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
	var req request
	if err := json.Unmarshal(input, &req); err != nil {
		return nil, fmt.Errorf("athenalocal: parameters: %w", err)
	}
	if a.Ran != nil {
		a.Ran(req.QueryString)
	}
	sum := sha256.Sum256([]byte(req.QueryString))
	id := hex.EncodeToString(sum[:16])
	id = id[:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:]
	if a.Fail != nil {
		if err := a.Fail(req.QueryString); err != nil {
			return nil, &QueryError{ID: id, Reason: err.Error()}
		}
	}
	if req.WorkGroup == "" || req.QueryExecutionContext.Database == "" || !strings.HasPrefix(req.ResultConfiguration.OutputLocation, "s3://") {
		return nil, &QueryError{ID: id, Reason: "InvalidRequestException: WorkGroup, QueryExecutionContext.Database and an s3:// OutputLocation are required"}
	}
	var scanned int64
	var err error
	if m := Unload.FindStringSubmatch(req.QueryString); m != nil {
		key, ok := strings.CutPrefix(m[2], "s3://"+Bucket+"/")
		if !ok || !strings.HasSuffix(key, "/") {
			return nil, &QueryError{ID: id, Reason: "UNLOAD goes to s3://" + Bucket + "/<run store key>/ here"}
		}
		scanned, err = a.run(ctx, m[1], strings.TrimSuffix(key, "/"))
	} else if m := DML.FindStringSubmatch(req.QueryString); m != nil {
		scanned, err = a.dml(ctx, req.QueryString, m[2])
	} else {
		return nil, &QueryError{ID: id, Reason: "only UNLOAD ... TO 's3://...' WITH (format = 'PARQUET', compression = 'SNAPPY'), and MERGE INTO, DELETE FROM, INSERT INTO an Iceberg table run here"}
	}
	if err != nil {
		var qe *QueryError
		if errors.As(err, &qe) {
			qe.ID = id
			return nil, qe
		}
		return nil, &QueryError{ID: id, Reason: err.Error()}
	}
	return json.Marshal(map[string]any{"QueryExecution": map[string]any{
		"QueryExecutionId": id, "Query": req.QueryString, "StatementType": "DML", "WorkGroup": req.WorkGroup,
		"QueryExecutionContext": map[string]any{"Database": req.QueryExecutionContext.Database},
		"ResultConfiguration":   map[string]any{"OutputLocation": strings.TrimSuffix(req.ResultConfiguration.OutputLocation, "/") + "/" + id},
		"Status":                map[string]any{"State": "SUCCEEDED"},
		"Statistics":            map[string]any{"DataScannedInBytes": scanned},
	}})
}

// DML matches the statements that change an Iceberg table: the verb and
// the table ("db"."name").
var DML = regexp.MustCompile(`^(MERGE INTO|DELETE FROM|INSERT INTO) ("[^"]+"\."[^"]+")`)

// dml runs a statement changing an Iceberg table as one transaction: a
// failure leaves the table as it was.
func (a *Athena) dml(ctx context.Context, query, target string) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	known := false
	for name := range a.iceberg {
		db, tbl, _ := strings.Cut(name, ".")
		known = known || quote(db)+"."+quote(tbl) == target
	}
	if !known {
		return 0, &QueryError{Reason: "NOT_SUPPORTED: Modifying Hive table rows is only supported for transactional tables: " + target + " is not an Iceberg table"}
	}
	if err := a.open(ctx); err != nil {
		return 0, err
	}
	scanned, err := a.stage(ctx, query)
	if err != nil {
		return 0, err
	}
	// One statement is one DuckDB transaction: all or nothing.
	if err := a.eng.Exec(ctx, query); err != nil {
		return 0, err
	}
	return scanned, nil
}

// open opens the engine, once.
func (a *Athena) open(ctx context.Context) error {
	if a.eng != nil {
		return nil
	}
	eng, err := a.NewEngine()
	if err != nil {
		return err
	}
	// Trino's functions DuckDB lacks, with Trino's meaning.
	if err := eng.Exec(ctx, trinoFunctions+"; "+condition.TrinoOnDuckDB); err != nil {
		eng.Close()
		return err
	}
	a.eng = eng
	return nil
}

// run stages the registered tables the query names and writes its rows as
// one Parquet file under key; it returns the bytes of the tables read.
func (a *Athena) run(ctx context.Context, query, key string) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.open(ctx); err != nil {
		return 0, err
	}
	// UNLOAD refuses a location that holds data.
	if keys, err := blob.Keys(ctx, a.Blob, key+"/"); err != nil {
		return 0, err
	} else if len(keys) > 0 {
		return 0, &QueryError{Reason: "HIVE_PATH_ALREADY_EXISTS: Target directory for table already exists: s3://" + Bucket + "/" + key + "/"}
	}
	scanned, err := a.stage(ctx, query)
	if err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp("", "athenalocal-*")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	local := filepath.Join(tmp, "part.parquet")
	// One file, its rows in a fixed order, so that a local run is
	// reproducible (Athena writes several files, each in no given order;
	// with a final ORDER BY, each file sorted: kept here).
	sorted := "SELECT * FROM (" + query + ") AS q ORDER BY ALL"
	if orderedBy.MatchString(query) {
		sorted = query
	}
	if err := a.eng.Exec(ctx, "COPY ("+sorted+") TO "+dataset.QuoteLiteral(local)+" (FORMAT parquet, COMPRESSION snappy)"); err != nil {
		return 0, err
	}
	f, err := os.Open(local)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sum := sha256.Sum256([]byte(query))
	name := "part-" + hex.EncodeToString(sum[:8])
	return scanned, a.Blob.Put(ctx, key+"/"+name, f)
}

// stage stages the registered tables query names as views "db"."name"; it
// returns the bytes of their files.
func (a *Athena) stage(ctx context.Context, query string) (int64, error) {
	var scanned int64
	for name, t := range a.tables {
		q := quote(t.Database) + "." + quote(t.Name)
		if !strings.Contains(query, q) {
			continue
		}
		for _, f := range t.Manifest.FileKeys(t.Ref) {
			if info, err := a.Blob.Stat(ctx, f); err == nil {
				scanned += info.Size
			}
		}
		if a.views == nil {
			a.views = map[string]dataset.Ref{}
		}
		if a.views[name] == t.Ref {
			continue
		}
		staged := "athena_" + hex.EncodeToString([]byte(name))
		if _, err := a.eng.StageDataset(ctx, staged, t.Ref); err != nil {
			return 0, fmt.Errorf("table %s: %w", name, err)
		}
		if err := a.eng.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+quote(t.Database)); err != nil {
			return 0, err
		}
		if err := a.eng.Exec(ctx, "CREATE OR REPLACE VIEW "+q+" AS SELECT * FROM "+quote(staged)); err != nil {
			return 0, err
		}
		a.views[name] = t.Ref
	}
	return scanned, nil
}

// trinoFunctions defines on DuckDB the Trino functions the targeting SQL
// uses and DuckDB lacks: to_utf8 (varchar → varbinary, UTF-8); the
// condition generator's are condition.TrinoOnDuckDB.
const trinoFunctions = "CREATE OR REPLACE MACRO to_utf8(s) AS encode(s)"

func quote(s string) string { return dataset.QuoteIdent(s) }
