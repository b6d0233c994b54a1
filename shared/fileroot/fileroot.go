// Package fileroot confines the files a campaign reads (load-file's file,
// template `file:` references) to declared roots: local folders and s3://
// prefixes. A path outside every root, a `..` that climbs out, or a symlink
// that points out is refused; so is anything inside a Stepwise home but its
// uploads folder, even when the home lies inside a root (the default home,
// .stepwise, usually sits in the campaign folder).
package fileroot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Service is the activity Env service holding the Roots that load-file may
// read besides the campaign folder.
const Service = "fileRoots"

// HomeMarker is the file that marks a folder as a Stepwise home (MarkHome).
const HomeMarker = ".stepwise-home"

// UploadsDir is the folder of a home that stays readable: the API's uploads.
const UploadsDir = "uploads"

// Roots are the places files may be read from.
type Roots struct {
	Dirs []string // local folders
	S3   []string // s3://bucket/prefix/ prefixes
	// NoCampaignFolder: the campaign's folder is not a root (on AWS it is
	// the publishing machine's, not a folder of this one).
	NoCampaignFolder bool
}

// With returns r with more local folders (empty ones skipped).
func (r Roots) With(dirs ...string) Roots {
	out := Roots{Dirs: append([]string(nil), r.Dirs...), S3: append([]string(nil), r.S3...), NoCampaignFolder: r.NoCampaignFolder}
	for _, d := range dirs {
		if d != "" {
			out.Dirs = append(out.Dirs, d)
		}
	}
	return out
}

// Add adds a root: an s3:// prefix or a local folder.
func (r *Roots) Add(root string) error {
	if strings.HasPrefix(root, "s3://") {
		rest := strings.TrimPrefix(root, "s3://")
		if b, _, _ := strings.Cut(rest, "/"); b == "" {
			return fmt.Errorf("%q names no bucket", root)
		}
		r.S3 = append(r.S3, root)
		return nil
	}
	if root == "" {
		return errors.New("empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	r.Dirs = append(r.Dirs, abs)
	return nil
}

// String lists the roots, for messages.
func (r Roots) String() string {
	all := append(append([]string(nil), r.Dirs...), r.S3...)
	if len(all) == 0 {
		return "none"
	}
	return strings.Join(all, ", ")
}

// OutsideError refuses a file outside the roots.
type OutsideError struct {
	Name   string
	Roots  Roots
	Reason string // why, when not simply outside (a Stepwise home)
}

func (e *OutsideError) Error() string {
	why := "is outside the folders files may be read from"
	if e.Reason != "" {
		why = e.Reason + "; files may be read from"
	}
	return fmt.Sprintf("%q %s: %s", e.Name, why, e.Roots)
}

// Resolve returns the file name, absolute with symlinks resolved: a path
// relative to base (a folder, not necessarily a root) or an absolute one. It
// must lie, symlinks resolved, inside one of the Dirs and outside any
// Stepwise home but its uploads. A missing file is an error wrapping
// fs.ErrNotExist.
func (r Roots) Resolve(base, name string) (string, error) {
	p := strings.TrimPrefix(name, "file://")
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	outside := &OutsideError{Name: name, Roots: r}
	if _, ok := r.within(p); !ok {
		return "", outside // lexically out: `..` or another folder
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", err
	}
	if _, ok := r.within(real); !ok {
		return "", outside // a symlink points out
	}
	if inHome(real) {
		outside.Reason = "is inside a Stepwise home (only its uploads folder is readable)"
		return "", outside
	}
	return real, nil
}

// Open opens the regular file Resolve admits, through an os.Root of its
// root folder, so that a symlink swapped in meanwhile cannot lead out.
func (r Roots) Open(base, name string) (*os.File, error) {
	real, err := r.Resolve(base, name)
	if err != nil {
		return nil, err
	}
	dir, _ := r.within(real)
	rel, err := filepath.Rel(dir, real)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
			return nil, err
		}
		return nil, &OutsideError{Name: name, Roots: r}
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%q is not a regular file", name)
	}
	return f, nil
}

// Display names a file Resolve returned without the machine's folders: its
// path in base, else in its root prefixed by the root's own name
// (uploads/u1/leads.csv).
func (r Roots) Display(base, real string) string {
	if rel, err := filepath.Rel(resolved(base), real); err == nil && filepath.IsLocal(rel) {
		return filepath.ToSlash(rel)
	}
	if dir, ok := r.within(real); ok {
		if rel, err := filepath.Rel(dir, real); err == nil {
			return filepath.ToSlash(filepath.Join(filepath.Base(dir), rel))
		}
	}
	return filepath.Base(real)
}

// ReadFile reads a file Open admits.
func (r Roots) ReadFile(base, name string) ([]byte, error) {
	f, err := r.Open(base, name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// within returns the root folder (symlinks resolved) that holds p.
func (r Roots) within(p string) (string, bool) {
	for _, d := range r.Dirs {
		for _, dir := range []string{d, resolved(d)} {
			if dir == "" {
				continue
			}
			if rel, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(rel) {
				return resolved(d), true
			}
		}
	}
	return "", false
}

// resolved is dir, absolute with symlinks resolved ("" when it does not exist).
func resolved(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return ""
	}
	return real
}

// inHome reports whether the file p (absolute, symlinks resolved) lies in
// a Stepwise home anywhere but in its uploads folder.
func inHome(p string) bool {
	for dir, child := filepath.Dir(p), p; ; dir, child = filepath.Dir(dir), dir {
		if _, err := os.Lstat(filepath.Join(dir, HomeMarker)); err == nil {
			if child == p || filepath.Base(child) != UploadsDir {
				return true
			}
		}
		if filepath.Dir(dir) == dir {
			return false
		}
	}
}

// MarkHome marks dir as a Stepwise home, whose files Open refuses (all
// but its uploads).
func MarkHome(dir string) error {
	p := filepath.Join(dir, HomeMarker)
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	return os.WriteFile(p, []byte("This folder is a Stepwise home: campaigns cannot read files here but in uploads/.\n"), 0o600)
}

// CheckS3 admits an s3:// URI under one of the S3 prefixes; a prefix is a
// folder (s3://b/in admits s3://b/in/x.csv, not s3://b/inbox.csv).
func (r Roots) CheckS3(uri string) error {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(uri, "s3://"), "/")
	if key == "" || path.Clean("/"+key) != "/"+key {
		return &OutsideError{Name: uri, Roots: r, Reason: "is not a plain object key (no empty, `.` or `..` segments)"}
	}
	for _, pre := range r.S3 {
		b, folder, _ := strings.Cut(strings.TrimPrefix(pre, "s3://"), "/")
		folder = strings.TrimSuffix(folder, "/")
		if b == bucket && (folder == "" || strings.HasPrefix(key, folder+"/")) {
			return nil
		}
	}
	return &OutsideError{Name: uri, Roots: r}
}
