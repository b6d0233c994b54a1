package dataset

import (
	"bytes"
	"errors"
	"io"

	"github.com/parquet-go/parquet-go"
)

// keysIncrease reads a one-column key of Parquet files in Go, in file
// order, and reports whether it increases strictly (then it is unique) with
// no null. decided is false when the files are not of a shape Stream reads
// in Go, or when the keys do not increase: a count of distinct keys then
// decides. A null decides (unique is false: KeyIsUnique's keys are never
// null). Sources are commonly written in key order (the sample data are),
// and reading one column in order costs a fraction of hashing every key;
// unordered keys stop it at their first step back.
func keysIncrease(paths []string, key Column) (unique, decided bool, err error) {
	files, _, ok, err := openGo(paths, []Column{key})
	if err != nil || !ok {
		return false, false, nil // DuckDB reads it (or says why not)
	}
	defer closeGo(files)
	var (
		prevBytes []byte
		prevInt   int64
		first     = true
		vals      = make([]parquet.Value, 1024)
	)
	// step reports whether v follows the previous key (false: stop).
	step := func(v parquet.Value) (next, null bool) {
		if v.IsNull() {
			return false, true
		}
		switch v.Kind() {
		case parquet.ByteArray:
			b := v.ByteArray()
			if !first && bytes.Compare(prevBytes, b) >= 0 {
				return false, false
			}
			prevBytes = append(prevBytes[:0], b...)
		case parquet.Int32, parquet.Int64:
			n := int64(v.Int32())
			if v.Kind() == parquet.Int64 {
				n = v.Int64()
			}
			if !first && prevInt >= n {
				return false, false
			}
			prevInt = n
		default:
			return false, false
		}
		first = false
		return true, false
	}
	for _, f := range files {
		for _, rg := range f.pf.RowGroups() {
			pages := rg.ColumnChunks()[f.leaves[0]].Pages()
			for {
				p, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					pages.Close()
					return false, false, err
				}
				r := p.Values()
				for {
					n, err := r.ReadValues(vals)
					for _, v := range vals[:n] {
						if next, null := step(v); !next {
							pages.Close()
							return false, null, nil
						}
					}
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						pages.Close()
						return false, false, err
					}
				}
			}
			pages.Close()
		}
	}
	return true, true, nil
}
