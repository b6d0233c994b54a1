package lambdalocal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// Build flags, the same as Makefile.lambda's.
const (
	// Tags: no RPC mode (provided.al2023), the pure-Go resolver and user
	// lookup (a static glibc cannot load NSS modules).
	Tags = "lambda.norpc,netgo,osusergo"
	// StaticLDFlags link cgo (DuckDB) functions fully static: the default
	// build needs a libstdc++ newer than Amazon Linux 2023's.
	StaticLDFlags = `-s -w -linkmode external -extldflags "-static"`
	// PureLDFlags link CGO-free functions.
	PureLDFlags = "-s -w"
)

// Built is one bootstrap.
type Built struct {
	Pkg    string // import path of the main package
	Path   string // the bootstrap file
	CGO    bool   // links cgo code (DuckDB): built fully static
	Size   int64
	Cached bool          // reused from the cache
	Took   time.Duration // build time (0 when cached)
}

// Builder builds bootstraps for linux/amd64 with -trimpath and caches them
// under CacheDir by a key over the sources they depend on, so unchanged
// functions are not rebuilt (go build caches packages, not binaries).
type Builder struct {
	Root     string // module root
	CacheDir string // e.g. $XDG_CACHE_HOME/stepwise/bootstraps
	Jobs     int    // concurrent builds (default 2)
	Log      io.Writer
}

// DefaultCacheDir is where bootstraps are cached between test runs.
func DefaultCacheDir() string {
	if d := os.Getenv("STEPWISE_BOOTSTRAP_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		d = os.TempDir()
	}
	return filepath.Join(d, "stepwise", "bootstraps")
}

type listedPkg struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	Module     *struct {
		Path    string
		Version string
		Main    bool
		Replace *struct{ Path, Version string }
	}
	GoFiles, CgoFiles, CFiles, CXXFiles, HFiles, SFiles, SysoFiles, EmbedFiles []string
	Deps                                                                       []string
}

// Build builds (or reuses) the bootstraps of the main packages pkgs
// (import paths or ./relative dirs) and returns them by import path.
func (b *Builder) Build(ctx context.Context, pkgs ...string) (map[string]Built, error) {
	if len(pkgs) == 0 {
		return map[string]Built{}, nil
	}
	listed, err := b.list(ctx, pkgs)
	if err != nil {
		return nil, err
	}
	goVersion, err := b.goVersion(ctx)
	if err != nil {
		return nil, err
	}
	var mains []*listedPkg
	for _, p := range listed {
		if p.Name == "main" && !p.Standard && p.Module != nil && p.Module.Main {
			mains = append(mains, p)
		}
	}
	sort.Slice(mains, func(i, j int) bool { return mains[i].ImportPath < mains[j].ImportPath })
	jobs := b.Jobs
	if jobs <= 0 {
		jobs = 2
	}
	out := map[string]Built{}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	fileHashes := &sync.Map{}
	for _, m := range mains {
		cgo := false
		for _, d := range m.Deps {
			if p := listed[d]; p != nil && !p.Standard && len(p.CgoFiles) > 0 {
				cgo = true
			}
		}
		key, err := b.key(goVersion, m, listed, cgo, fileHashes)
		if err != nil {
			return nil, err
		}
		dir := filepath.Join(b.CacheDir, filepath.Base(m.ImportPath)+"@"+key)
		path := filepath.Join(dir, "bootstrap")
		if fi, err := os.Stat(path); err == nil {
			now := time.Now()
			os.Chtimes(dir, now, now) // in use: see pruneStale
			out[m.ImportPath] = Built{Pkg: m.ImportPath, Path: path, CGO: cgo, Size: fi.Size(), Cached: true}
			continue
		}
		g.Go(func() error {
			start := time.Now()
			if err := b.build(gctx, m.ImportPath, dir, cgo); err != nil {
				return err
			}
			fi, err := os.Stat(path)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			out[m.ImportPath] = Built{Pkg: m.ImportPath, Path: path, CGO: cgo, Size: fi.Size(), Took: time.Since(start)}
			if b.Log != nil {
				fmt.Fprintf(b.Log, "built %s (%.1f MB, cgo=%v) in %s\n", m.ImportPath, float64(fi.Size())/1e6, cgo, time.Since(start).Round(100*time.Millisecond))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// build runs go build into dir/bootstrap (atomically: a temp name, then a rename
// of the folder) and removes older cached builds of the same function.
func (b *Builder) build(ctx context.Context, pkg, dir string, cgo bool) error {
	tmp := dir + ".tmp" + fmt.Sprint(os.Getpid())
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	args := BuildArgs(cgo, filepath.Join(tmp, "bootstrap"), pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.Root
	cmd.Env = append(os.Environ(), BuildEnv(cgo)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	pruneStale(filepath.Dir(dir), filepath.Base(pkg), time.Now())
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// staleBuild is how long a cached build nobody built or reused is kept.
const staleBuild = time.Hour

// pruneStale removes the cached builds of function name that were last built
// or reused more than staleBuild before now. A build another checkout of the
// repository (a worktree) built or reused lately may be running under RIE
// right now: removing it would fail that test's next start of the function.
func pruneStale(cacheDir, name string, now time.Time) {
	old, _ := filepath.Glob(filepath.Join(cacheDir, name+"@*"))
	for _, o := range old {
		fi, err := os.Stat(o)
		if err == nil && !strings.Contains(filepath.Base(o), ".tmp") && now.Sub(fi.ModTime()) > staleBuild {
			os.RemoveAll(o)
		}
	}
}

// BuildArgs are the go build arguments of a bootstrap.
func BuildArgs(cgo bool, out, pkg string) []string {
	ld := PureLDFlags
	if cgo {
		ld = StaticLDFlags
	}
	return []string{"build", "-trimpath", "-tags", Tags, "-ldflags", ld, "-o", out, pkg}
}

// BuildEnv is the environment of a bootstrap build.
func BuildEnv(cgo bool) []string {
	c := "0"
	if cgo {
		c = "1"
	}
	return []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=" + c}
}

func (b *Builder) list(ctx context.Context, pkgs []string) (map[string]*listedPkg, error) {
	args := append([]string{"list", "-deps", "-tags", Tags, "-json=ImportPath,Name,Dir,Standard,Module,GoFiles,CgoFiles,CFiles,CXXFiles,HFiles,SFiles,SysoFiles,EmbedFiles,Deps"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = b.Root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	out := map[string]*listedPkg{}
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		p := new(listedPkg)
		if err := dec.Decode(p); err != nil {
			return nil, err
		}
		out[p.ImportPath] = p
	}
	return out, nil
}

func (b *Builder) goVersion(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	cmd.Dir = b.Root
	out, err := cmd.Output()
	return strings.TrimSpace(string(out)), err
}

// key hashes what a bootstrap is made of: the Go version, the flags, the
// module versions of its dependencies and the files of its packages in
// this module.
func (b *Builder) key(goVersion string, m *listedPkg, listed map[string]*listedPkg, cgo bool, cache *sync.Map) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%q\x00", goVersion, runtime.GOOS, BuildArgs(cgo, "", ""))
	for _, d := range append(append([]string(nil), m.Deps...), m.ImportPath) {
		p := listed[d]
		if p == nil || p.Standard {
			continue
		}
		if p.Module == nil || !p.Module.Main {
			mod := ""
			if p.Module != nil {
				mod = p.Module.Path + "@" + p.Module.Version
				if r := p.Module.Replace; r != nil {
					mod += "=>" + r.Path + "@" + r.Version
				}
			}
			fmt.Fprintf(h, "%s %s\n", p.ImportPath, mod)
			continue
		}
		files := [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.HFiles, p.SFiles, p.SysoFiles, p.EmbedFiles}
		for _, group := range files {
			for _, f := range group {
				path := filepath.Join(p.Dir, f)
				sum, err := fileHash(path, cache)
				if err != nil {
					return "", err
				}
				fmt.Fprintf(h, "%s/%s %s\n", p.ImportPath, f, sum)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func fileHash(path string, cache *sync.Map) (string, error) {
	if v, ok := cache.Load(path); ok {
		return v.(string), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	cache.Store(path, sum)
	return sum, nil
}
