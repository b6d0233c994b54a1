package datatask

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

// openWarehouseFolder opens a catalog's warehouse folder: the folder is the
// warehouse, so table t lives in dir/t (its keys are warehouse/t/...).
//
// Releases up to 2026-12 kept tables one level down, in dir/warehouse/t; those
// folders are moved up first. A folder whose name is taken at the top is left
// where it is and named in the error, so that nothing is merged by guess.
func openWarehouseFolder(dir string) (*folderblob.Store, error) {
	if err := moveLegacyTables(dir); err != nil {
		return nil, err
	}
	return folderblob.Mounted(dir, tablelog.Prefix)
}

func moveLegacyTables(dir string) error {
	legacy := filepath.Join(dir, tablelog.Prefix)
	if _, err := os.Stat(filepath.Join(legacy, "commits")); err == nil {
		return nil // a table named "warehouse" in the current layout
	}
	entries, err := os.ReadDir(legacy)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("warehouse %s: %w", dir, err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == ".tmp" {
			continue
		}
		from, to := filepath.Join(legacy, e.Name()), filepath.Join(dir, e.Name())
		if _, err := os.Lstat(to); err == nil {
			if _, err := os.Lstat(from); errors.Is(err, fs.ErrNotExist) {
				continue // another home moved it meanwhile
			}
			return fmt.Errorf("warehouse %s: table %s is in both %s (the layout before 2026-12) and %s; keep one and remove the other", dir, e.Name(), from, to)
		}
		// Another home may move it first: then it is already in place.
		if err := os.Rename(from, to); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("warehouse %s: move table %s up from %s: %w", dir, e.Name(), legacy, err)
		}
	}
	os.Remove(filepath.Join(legacy, ".tmp"))
	os.Remove(legacy) // only when empty
	return nil
}
