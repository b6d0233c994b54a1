package dataset

import (
	"database/sql/driver"
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"

	"github.com/stepwise-run/stepwise/shared/campaign"
)

// parquetLeaf is the Parquet type of a column the Go writer handles, the
// one DuckDB reads back as the column's canonical type.
func parquetLeaf(c Column) (parquet.Node, bool) {
	switch c.Type {
	case campaign.TypeString:
		return parquet.String(), true
	case campaign.TypeInteger:
		return parquet.Int(64), true
	case campaign.TypeNumber:
		return parquet.Leaf(parquet.DoubleType), true
	case campaign.TypeBoolean:
		return parquet.Leaf(parquet.BooleanType), true
	case campaign.TypeDate:
		return parquet.Date(), true
	case campaign.TypeTimestamp:
		return parquet.Timestamp(parquet.Microsecond), true
	}
	return nil, false
}

// goSchema is the Parquet schema of cols, and for each column its leaf
// index in the file (Parquet groups order their fields by name); ok is false
// when a column's type is not one parquetLeaf handles.
func goSchema(cols []Column) (*parquet.Schema, []int, bool) {
	group := parquet.Group{}
	for _, c := range cols {
		leaf, ok := parquetLeaf(c)
		if !ok {
			return nil, nil, false
		}
		group[c.Name] = parquet.Optional(leaf)
	}
	schema := parquet.NewSchema("rows", group)
	index := make([]int, len(cols))
	for i, c := range cols {
		leaf, _ := schema.Lookup(c.Name)
		index[i] = leaf.ColumnIndex
	}
	return schema, index, true
}

// writeGoRows writes the n rows made by row to a local Parquet file, in
// order, without DuckDB: the values go straight into Parquet pages.
func writeGoRows(file string, schema *parquet.Schema, index []int, cols []Column, n int, row func(i int, dst []driver.Value)) error {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	w := parquet.NewWriter(f, schema, parquet.Compression(&snappy.Codec{}), parquet.CreatedBy("stepwise", "", ""))
	vals := make([]driver.Value, len(cols))
	const batch = 1024
	rows := make([]parquet.Row, 0, batch)
	// One slab of values per batch, reused: the writer copies the values
	// (and the bytes they point to) into its pages.
	slab := make([]parquet.Value, batch*len(cols))
	flush := func() error {
		_, err := w.WriteRows(rows)
		rows = rows[:0]
		return err
	}
	for i := range n {
		clear(vals)
		row(i, vals)
		k := len(rows) * len(cols)
		r := parquet.Row(slab[k : k+len(cols) : k+len(cols)])
		for j, v := range vals {
			pv, err := parquetValue(cols[j], v)
			if err != nil {
				return fmt.Errorf("row %d, column %s: %w", i, cols[j].Name, err)
			}
			def := 1
			if v == nil {
				def = 0
			}
			r[index[j]] = pv.Level(0, def, index[j])
		}
		if rows = append(rows, r); len(rows) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return f.Close()
}

// parquetValue converts a WriteRows value to the column's Parquet value.
func parquetValue(c Column, v driver.Value) (parquet.Value, error) {
	if v == nil {
		return parquet.NullValue(), nil
	}
	switch c.Type {
	case campaign.TypeString:
		if s, ok := v.(string); ok {
			// The string's own bytes, not a copy: the writer copies them.
			return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s))), nil
		}
	case campaign.TypeInteger:
		if x, ok := v.(int64); ok {
			return parquet.Int64Value(x), nil
		}
	case campaign.TypeNumber:
		if x, ok := v.(float64); ok {
			return parquet.DoubleValue(x), nil
		}
	case campaign.TypeBoolean:
		if x, ok := v.(bool); ok {
			return parquet.BooleanValue(x), nil
		}
	case campaign.TypeDate:
		if t, ok := v.(time.Time); ok {
			y, m, d := t.Date()
			days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
			return parquet.Int32Value(int32(days)), nil
		}
	case campaign.TypeTimestamp:
		if t, ok := v.(time.Time); ok {
			return parquet.Int64Value(t.UnixMicro()), nil
		}
	}
	return parquet.Value{}, fmt.Errorf("%T is not a %s value", v, c.Type)
}
