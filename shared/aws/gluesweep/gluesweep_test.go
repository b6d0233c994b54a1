package gluesweep_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/stepwise-run/stepwise/shared/aws/gluesweep"
	"github.com/stepwise-run/stepwise/shared/gluename"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// A run's tables go (more than one BatchDeleteTable's worth); another
// run's, a managed table's Iceberg copy and a table Stepwise did not make
// stay; a second sweep finds nothing.
func TestSweepRunOnMoto(t *testing.T) {
	ctx := context.Background()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""), BaseEndpoint: aws.String(testenv.Moto(t)), ClientLogMode: aws.LogRetries}
	gc := glue.NewFromConfig(cfg)
	if _, err := gc.CreateDatabase(ctx, &glue.CreateDatabaseInput{DatabaseInput: &gluetypes.DatabaseInput{Name: aws.String("stepwise")}}); err != nil {
		t.Fatal(err)
	}
	create := func(name string) {
		t.Helper()
		// A create the SDK retried after its answer was lost finds the table made.
		var exists *gluetypes.AlreadyExistsException
		if _, err := gc.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String("stepwise"), TableInput: &gluetypes.TableInput{Name: aws.String(name)}}); err != nil && !errors.As(err, &exists) {
			t.Fatal(err)
		}
	}
	for i := range 130 {
		create(gluename.Run("run-a", fmt.Sprintf("in_%d", i)))
	}
	keep := []string{gluename.Run("run-b", "zones"), gluename.Run("run-b", "in_x_out"), gluename.Managed("customers"), "customers_export"}
	for _, n := range keep {
		create(n)
	}
	s := &gluesweep.Sweeper{Glue: gc, Database: "stepwise"}
	n, err := s.SweepRun(ctx, "run-a")
	if err != nil || n != 130 {
		t.Fatalf("sweep run-a: %d, %v; want 130", n, err)
	}
	var left []string
	var next *string
	for {
		out, err := gc.GetTables(ctx, &glue.GetTablesInput{DatabaseName: aws.String("stepwise"), NextToken: next})
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range out.TableList {
			left = append(left, aws.ToString(tb.Name))
		}
		if next = out.NextToken; aws.ToString(next) == "" {
			break
		}
	}
	slices.Sort(left)
	slices.Sort(keep)
	if !slices.Equal(left, keep) {
		t.Errorf("left %v, want %v", left, keep)
	}
	if n, err := s.SweepRun(ctx, "run-a"); err != nil || n != 0 {
		t.Errorf("second sweep: %d, %v", n, err)
	}
}

// Whatever Glue's filter returns, only the run's names are deleted.
func TestSweepKeepsOthersWhateverTheFilter(t *testing.T) {
	g := &loose{names: []string{gluename.Run("r", "zones"), gluename.Managed("t"), gluename.Run("other", "zones"), "x"}}
	n, err := (&gluesweep.Sweeper{Glue: g, Database: "db"}).SweepRun(context.Background(), "r")
	if err != nil || n != 1 || !slices.Equal(g.deleted, []string{gluename.Run("r", "zones")}) {
		t.Errorf("deleted %v (%d, %v)", g.deleted, n, err)
	}
}

// loose is a Glue whose GetTables ignores the expression.
type loose struct{ names, deleted []string }

func (l *loose) GetTables(_ context.Context, _ *glue.GetTablesInput, _ ...func(*glue.Options)) (*glue.GetTablesOutput, error) {
	out := &glue.GetTablesOutput{}
	for _, n := range l.names {
		out.TableList = append(out.TableList, gluetypes.Table{Name: aws.String(n)})
	}
	return out, nil
}

func (l *loose) BatchDeleteTable(_ context.Context, in *glue.BatchDeleteTableInput, _ ...func(*glue.Options)) (*glue.BatchDeleteTableOutput, error) {
	l.deleted = append(l.deleted, in.TablesToDelete...)
	return &glue.BatchDeleteTableOutput{}, nil
}
