package athenaglue

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	gluetypes "github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/stepwise-run/stepwise/shared/activity/athenastep"
)

// RegisterIceberg creates a managed table's Iceberg copy in Glue unless it
// exists: CreateTable with OpenTableFormatInput (Glue writes the table's
// first Iceberg metadata at its location; Athena then MERGEs into it). An
// existing table is left as it is: its schema is in its Iceberg metadata.
func (a *Adapter) RegisterIceberg(ctx context.Context, t athenastep.IcebergTable) (bool, error) {
	cols := make([]gluetypes.Column, len(t.Columns))
	for i, c := range t.Columns {
		typ, err := glueType(c)
		if err != nil {
			return false, err
		}
		cols[i] = gluetypes.Column{Name: aws.String(strings.ToLower(c.Name)), Type: aws.String(typ)}
	}
	_, err := a.Glue.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(t.Database),
		OpenTableFormatInput: &gluetypes.OpenTableFormatInput{IcebergInput: &gluetypes.IcebergInput{
			MetadataOperation: gluetypes.MetadataOperationCreate, Version: aws.String("2")}},
		TableInput: &gluetypes.TableInput{Name: aws.String(t.Name), TableType: aws.String("EXTERNAL_TABLE"),
			Parameters:        map[string]string{"table_type": "ICEBERG", "stepwise.table": t.Table},
			StorageDescriptor: &gluetypes.StorageDescriptor{Columns: cols, Location: aws.String(t.Location)}}})
	var exists *gluetypes.AlreadyExistsException
	if errors.As(err, &exists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("glue Iceberg table %s.%s: %w", t.Database, t.Name, err)
	}
	return true, nil
}
