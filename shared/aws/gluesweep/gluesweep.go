// Package gluesweep removes the Glue tables a run registered (the Athena
// engine's views of its datasets, named gluename.RunPrefix(run)+…) when the
// run ends: the run store's datasets expire after days, and Glue would
// otherwise keep a table for every one of them, up to the database's quota.
package gluesweep

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/glue"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
	"github.com/stepwise-run/stepwise/shared/gluename"
)

// Glue is the part of the Glue API used here.
type Glue interface {
	GetTables(ctx context.Context, in *glue.GetTablesInput, opts ...func(*glue.Options)) (*glue.GetTablesOutput, error)
	BatchDeleteTable(ctx context.Context, in *glue.BatchDeleteTableInput, opts ...func(*glue.Options)) (*glue.BatchDeleteTableOutput, error)
}

// batch is BatchDeleteTable's limit of names a call.
const batch = 100

// Sweeper removes runs' tables from one Glue database.
type Sweeper struct {
	Glue     Glue
	Database string
}

// SweepRun deletes the tables of run and returns how many. Only names that
// start with the run's prefix are deleted, whatever Glue's filter returned:
// managed tables' Iceberg copies and other runs' tables stay.
func (s *Sweeper) SweepRun(ctx context.Context, run string) (int, error) {
	prefix := gluename.RunPrefix(run)
	var names []string
	var next *string
	for {
		out, err := s.Glue.GetTables(ctx, &glue.GetTablesInput{DatabaseName: aws.String(s.Database),
			Expression: aws.String(regexp.QuoteMeta(prefix) + ".*"), NextToken: next})
		if err != nil {
			return 0, fmt.Errorf("glue tables of run %s: %w", run, err)
		}
		for _, t := range out.TableList {
			if n := aws.ToString(t.Name); strings.HasPrefix(n, prefix) {
				names = append(names, n)
			}
		}
		if next = out.NextToken; aws.ToString(next) == "" {
			break
		}
	}
	deleted := 0
	for start := 0; start < len(names); start += batch {
		chunk := names[start:min(start+batch, len(names))]
		out, err := s.Glue.BatchDeleteTable(ctx, &glue.BatchDeleteTableInput{DatabaseName: aws.String(s.Database), TablesToDelete: chunk})
		if err != nil {
			return deleted, fmt.Errorf("delete glue tables of run %s: %w", run, err)
		}
		deleted += len(chunk) - len(out.Errors)
		for _, e := range out.Errors {
			if e.ErrorDetail != nil && aws.ToString(e.ErrorDetail.ErrorCode) != "EntityNotFoundException" {
				return deleted, fmt.Errorf("delete glue table %s.%s: %s: %s", s.Database, aws.ToString(e.TableName),
					aws.ToString(e.ErrorDetail.ErrorCode), aws.ToString(e.ErrorDetail.ErrorMessage))
			}
		}
	}
	return deleted, nil
}

// Bind wraps a run-ending handler (FinishRun, FailRun) with the sweep of
// the stack's Glue database (ATHENA_GLUE_DATABASE); without one, h as it is.
func Bind(cfg lambdafn.Config, awsCfg aws.Config, h func(context.Context, json.RawMessage) (json.RawMessage, error)) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	if cfg.AthenaDatabase == "" {
		return h
	}
	return lambdafn.SweepAfter(h, &Sweeper{Glue: glue.NewFromConfig(awsCfg), Database: cfg.AthenaDatabase})
}
