package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/stepwise-run/stepwise/shared/campaign"
)

// Stream reads plain columns of local Parquet files in Go: per row it costs
// a fifth of a DuckDB query's (which materializes the window, then hands each
// value through database/sql), and a channel's slices read every recipient
// this way. Values are those Query returns.

// goStreamOn lets tests force the DuckDB path, to compare the two.
var goStreamOn = true

// goColumn reads one column of every file.
type goColumn struct {
	Column
	conv func(parquet.Value) any
}

// goFile is an open file and the leaf index of each requested column.
type goFile struct {
	f      *os.File
	pf     *parquet.File
	leaves []int
}

// openGo opens the files for reading cols in Go. ok is false, with nothing
// open, when a file or column is not of a shape it reads (nested, JSON, wide
// decimals, unsigned or other unit types): DuckDB reads those.
func openGo(paths []string, cols []Column) (files []goFile, conv []goColumn, ok bool, err error) {
	if !goStreamOn || len(paths) == 0 {
		return nil, nil, false, nil
	}
	defer func() {
		if !ok {
			closeGo(files)
			files = nil
		}
	}()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return files, nil, false, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return files, nil, false, err
		}
		pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
		if err != nil {
			f.Close()
			return files, nil, false, nil // a file parquet-go cannot open: DuckDB reads it (or says why not)
		}
		gf := goFile{f: f, pf: pf}
		files = append(files, gf)
		for _, c := range cols {
			leaf, found := pf.Schema().Lookup(c.Name)
			if !found || leaf.MaxRepetitionLevel != 0 || leaf.Node == nil || !leaf.Node.Leaf() {
				return files, nil, false, nil
			}
			fn := converter(c, leaf.Node.Type())
			if fn == nil {
				return files, nil, false, nil
			}
			if len(files) == 1 {
				conv = append(conv, goColumn{Column: c, conv: fn})
			} else if !sameStorage(files[0].pf, c.Name, leaf.Node.Type()) {
				return files, nil, false, nil
			}
			files[len(files)-1].leaves = append(files[len(files)-1].leaves, leaf.ColumnIndex)
		}
	}
	return files, conv, true, nil
}

// sameStorage reports whether a later file stores a column as the first does.
func sameStorage(first *parquet.File, name string, t parquet.Type) bool {
	leaf, _ := first.Schema().Lookup(name)
	a := leaf.Node.Type()
	return a.Kind() == t.Kind() && a.LogicalType().String() == t.LogicalType().String()
}

func closeGo(files []goFile) {
	for _, f := range files {
		f.f.Close()
	}
}

// converter returns the conversion of a stored column to the value Query
// gives for c, or nil when the storage is not one it knows.
func converter(c Column, t parquet.Type) func(parquet.Value) any {
	var lt format.LogicalTypeValue
	if l := t.LogicalType(); l != nil {
		lt = l.Value
	}
	nullable := func(f func(parquet.Value) any) func(parquet.Value) any {
		return func(v parquet.Value) any {
			if v.IsNull() {
				return nil
			}
			return f(v)
		}
	}
	switch c.Type {
	case campaign.TypeString:
		if _, ok := lt.(*format.StringType); ok && t.Kind() == parquet.ByteArray {
			return nullable(func(v parquet.Value) any { return string(v.ByteArray()) })
		}
	case campaign.TypeBoolean:
		if lt == nil && t.Kind() == parquet.Boolean {
			return nullable(func(v parquet.Value) any { return v.Boolean() })
		}
	case campaign.TypeInteger:
		it, ok := lt.(*format.IntType)
		if (lt == nil || ok && it.IsSigned) && t.Kind() == parquet.Int64 {
			return nullable(func(v parquet.Value) any { return v.Int64() })
		}
		if ok && it.IsSigned && t.Kind() == parquet.Int32 {
			return nullable(func(v parquet.Value) any { return int64(v.Int32()) })
		}
	case campaign.TypeNumber:
		switch {
		case lt == nil && t.Kind() == parquet.Double:
			return nullable(func(v parquet.Value) any { return v.Double() })
		case lt == nil && t.Kind() == parquet.Float:
			return nullable(func(v parquet.Value) any { return float64(v.Float()) })
		}
	case campaign.TypeDate:
		if _, ok := lt.(*format.DateType); ok && t.Kind() == parquet.Int32 {
			return nullable(func(v parquet.Value) any { return time.Unix(int64(v.Int32())*86400, 0).UTC() })
		}
	case campaign.TypeTimestamp:
		ts, ok := lt.(*format.TimestampType)
		if !ok || !ts.IsAdjustedToUTC || t.Kind() != parquet.Int64 {
			return nil
		}
		switch ts.Unit.Value.(type) {
		case *format.MilliSeconds:
			return nullable(func(v parquet.Value) any { return time.UnixMilli(v.Int64()).UTC() })
		case *format.MicroSeconds:
			return nullable(func(v parquet.Value) any { return time.UnixMicro(v.Int64()).UTC() })
		case *format.NanoSeconds:
			return nullable(func(v parquet.Value) any { return time.Unix(0, v.Int64()).UTC() })
		}
	case campaign.TypeDecimal:
		d, ok := lt.(*format.DecimalType)
		if !ok || int(d.Scale) != c.Scale {
			return nil
		}
		scale := int(d.Scale)
		switch t.Kind() {
		case parquet.Int64:
			return nullable(func(v parquet.Value) any { return json.Number(decimalString(big.NewInt(v.Int64()), scale)) })
		case parquet.Int32:
			return nullable(func(v parquet.Value) any { return json.Number(decimalString(big.NewInt(int64(v.Int32())), scale)) })
		}
	}
	return nil
}

// goStream passes rows [off, end) of the files, in file order, to flush in
// batches of up to size rows.
func goStream(files []goFile, conv []goColumn, off, end int64, size int, flush func(*Batch) error) error {
	cols := make([]Column, len(conv))
	for i, c := range conv {
		cols[i] = c.Column
	}
	vals := make([][]parquet.Value, len(conv))
	for i := range vals {
		vals[i] = make([]parquet.Value, size)
	}
	var at int64 // rows before the current row group
	for _, f := range files {
		for _, rg := range f.pf.RowGroups() {
			n := rg.NumRows()
			lo, hi := max(off, at)-at, min(end, at+n)-at
			at += n
			if lo >= hi {
				if at >= end {
					return nil
				}
				continue
			}
			if err := readGroup(rg, f.leaves, conv, cols, vals, lo, hi, flush); err != nil {
				return err
			}
		}
	}
	return nil
}

// readGroup reads rows [lo, hi) of one row group.
func readGroup(rg parquet.RowGroup, leaves []int, conv []goColumn, cols []Column, vals [][]parquet.Value, lo, hi int64, flush func(*Batch) error) error {
	chunks := rg.ColumnChunks()
	cur := make([]cursor, len(leaves))
	for i, l := range leaves {
		cur[i].pages = chunks[l].Pages()
		defer cur[i].pages.Close()
		if err := cur[i].pages.SeekToRow(lo); err != nil {
			return err
		}
	}
	for lo < hi {
		k := int(min(int64(len(vals[0])), hi-lo))
		rows := make([][]any, k)
		flat := make([]any, k*len(conv))
		for r := range rows {
			rows[r] = flat[r*len(conv) : (r+1)*len(conv) : (r+1)*len(conv)]
		}
		for i := range cur {
			if err := cur[i].read(vals[i][:k]); err != nil {
				return fmt.Errorf("column %s: %w", conv[i].Name, err)
			}
			fn := conv[i].conv
			for r, v := range vals[i][:k] {
				rows[r][i] = fn(v)
			}
		}
		if err := flush(&Batch{Columns: cols, Rows: rows}); err != nil {
			return err
		}
		lo += int64(k)
	}
	return nil
}

// cursor reads the values of a column chunk across its pages.
type cursor struct {
	pages parquet.Pages
	vals  parquet.ValueReader
}

// read fills dst; a chunk that ends first is an error.
func (c *cursor) read(dst []parquet.Value) error {
	for n := 0; n < len(dst); {
		if c.vals == nil {
			p, err := c.pages.ReadPage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return io.ErrUnexpectedEOF
				}
				return err
			}
			c.vals = p.Values()
		}
		k, err := c.vals.ReadValues(dst[n:])
		n += k
		if errors.Is(err, io.EOF) {
			c.vals = nil
		} else if err != nil {
			return err
		}
	}
	return nil
}
