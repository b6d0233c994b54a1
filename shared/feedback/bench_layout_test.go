package feedback

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// benchLayout writes the manifest of the generated version ver: parts with
// key indexes (generated from the ids' formula, cached beside the parts), or
// with STEPWISE_FEEDBACK_BENCH_LAYOUT=whole a version written whole.
func benchLayout(ctx context.Context, eng *dataset.Engine, ver dataset.Ref, root string, files []string, rows int) error {
	whole := os.Getenv("STEPWISE_FEEDBACK_BENCH_LAYOUT") == "whole"
	var parts []dataset.Part
	for p, f := range files {
		from, to := p*benchPartRows, min(rows, (p+1)*benchPartRows)
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(ver.Key(f))))
		if err != nil {
			return err
		}
		part := dataset.Part{File: ver.PartFile(f), Keys: ver.PartFile(strings.TrimSuffix(f, ".parquet") + ".keys"),
			Rows: int64(to - from), Bytes: fi.Size()}
		parts = append(parts, part)
		kp := filepath.Join(root, filepath.FromSlash(ver.PartKey(part.Keys)))
		if _, err := os.Stat(kp); whole || err == nil {
			continue
		}
		ks := make([]keyHash, 0, to-from)
		for i := from; i < to; i++ {
			ks = append(ks, hashID(benchID("", i)))
		}
		if err := os.WriteFile(kp+".tmp", encodeKeys(ks), 0o600); err != nil {
			return err
		}
		if err := os.Rename(kp+".tmp", kp); err != nil {
			return err
		}
	}
	m := map[string]any{"version": dataset.PartsVersion, "dimension": Table, "key": Key, "columns": Columns, "rows": rows,
		"files": []string{}, "createdAt": benchAt, "parts": parts}
	if whole {
		m["version"], m["files"], m["parts"] = dataset.FormatVersion, files, nil
	}
	b, _ := json.Marshal(m)
	return os.WriteFile(filepath.Join(root, filepath.FromSlash(ver.ManifestKey())), b, 0o600)
}
