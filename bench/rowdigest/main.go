// Command rowdigest prints, for every dataset a run wrote, its rows read back
// in dataset order and hashed: two runs whose datasets hold the same rows in
// the same order print the same digests, however each dataset is stored
// (wide, or narrow over a base). It checks that a change of representation
// (a transition written narrow instead of wide) changed no output.
//
//	go run ./bench/rowdigest HOME [RUN]      # the home's only run by default
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stepwise-run/stepwise/shared/dataset"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rowdigest HOME [RUN]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "rowdigest:", err)
		os.Exit(1)
	}
}

func run(home string, args []string) error {
	ctx := context.Background()
	runs := filepath.Join(home, "blob", "runs")
	var id string
	if len(args) > 0 {
		id = args[0]
	} else {
		ents, err := os.ReadDir(runs)
		if err != nil {
			return err
		}
		if len(ents) != 1 {
			return fmt.Errorf("%s holds %d runs: name one", runs, len(ents))
		}
		id = ents[0].Name()
	}
	store, err := folderblob.New(filepath.Join(home, "blob"))
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "rowdigest")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	eng, err := dataset.New(dataset.Options{Store: store, WorkDir: work})
	if err != nil {
		return err
	}
	defer eng.Close()
	var refs []string
	root := filepath.Join(runs, id)
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "manifest.json" {
			rel, _ := filepath.Rel(filepath.Join(home, "blob"), filepath.Dir(p))
			refs = append(refs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(refs)
	for i, ref := range refs {
		view := fmt.Sprintf("d%d", i)
		m, err := eng.StageDataset(ctx, view, dataset.Ref(ref))
		if err != nil {
			return err
		}
		h := sha256.New()
		n := 0
		err = eng.Query(ctx, 10000, func(b *dataset.Batch) error {
			for _, r := range b.Rows {
				for _, v := range r {
					fmt.Fprintf(h, "%v\x1f", v)
				}
				h.Write([]byte{'\n'})
				n++
			}
			return nil
		}, "SELECT * FROM "+dataset.QuoteIdent(view))
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		how := "wide"
		if m.Base != nil {
			how = "narrow"
		}
		fmt.Printf("%s %8d %-6s %s\n", hex.EncodeToString(h.Sum(nil))[:16], n, how, strings.TrimPrefix(ref, "runs/"+id+"/"))
	}
	return nil
}
