// Package folderblob is the local blob.Store: one file per object under a
// root folder. Writes go to a temporary file that is renamed (Put) or
// hard-linked (PutIfAbsent) into place, so readers never see partial objects.
package folderblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// tmpDir is the folder under the root that holds writes in progress. It is on
// the same file system as the objects, so rename and link are atomic.
const tmpDir = ".tmp"

// Store keeps objects as files under Root: files 0600 in folders 0700, as
// they hold personal data.
type Store struct {
	root string
	// mount, when set, is the key prefix the root holds: key mount/x is the
	// file root/x, and keys outside mount/ do not exist.
	mount string
}

var _ blob.FileStore = (*Store)(nil)

// New returns a store rooted at dir, creating it if needed.
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(abs, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("folderblob: %w", err)
	}
	return &Store{root: abs}, nil
}

// Mounted returns a store rooted at dir that holds the keys under prefix
// (without a trailing "/"): key prefix/x is the file dir/x. It serves a folder
// that is already what the prefix names, such as a catalog's warehouse folder
// for the keys under warehouse/.
func Mounted(dir, prefix string) (*Store, error) {
	if err := blob.CheckKey(prefix); err != nil {
		return nil, fmt.Errorf("folderblob: mount %q: %w", prefix, err)
	}
	s, err := New(dir)
	if err != nil {
		return nil, err
	}
	s.mount = prefix
	return s, nil
}

// Root is the absolute root folder.
func (s *Store) Root() string { return s.root }

func (s *Store) path(key string) (string, error) {
	if err := blob.CheckKey(key); err != nil {
		return "", err
	}
	if s.mount != "" {
		rel, ok := strings.CutPrefix(key, s.mount+"/")
		if !ok {
			return "", fmt.Errorf("folderblob: key %q is outside %s/, the keys this folder holds", key, s.mount)
		}
		key = rel
	}
	if key == tmpDir || strings.HasPrefix(key, tmpDir+"/") {
		return "", fmt.Errorf("folderblob: key %q is reserved", key)
	}
	return filepath.Join(s.root, filepath.FromSlash(key)), nil
}

// FilePath implements blob.FileStore.
func (s *Store) FilePath(key string) (string, error) {
	p, err := s.path(key)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: %w", key, blob.ErrNotFound)
	}
	return p, nil
}

// Put implements blob.Store.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	return s.put(ctx, key, r, false)
}

// PutIfAbsent implements blob.Store.
func (s *Store) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	return s.put(ctx, key, r, true)
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, exclusive bool) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	if exclusive {
		// Fail fast without copying the data; the link below decides races.
		if _, err := os.Lstat(dst); err == nil {
			return fmt.Errorf("%s: %w", key, blob.ErrExists)
		}
	}
	tmp, err := s.writeTemp(ctx, r)
	if err != nil {
		return fmt.Errorf("folderblob: put %s: %w", key, err)
	}
	defer os.Remove(tmp)
	return place(tmp, key, dst, exclusive)
}

// writeTemp writes r to a synced temporary file of the store and returns its
// name (nothing is left behind on error).
func (s *Store) writeTemp(ctx context.Context, r io.Reader) (string, error) {
	tmp, err := os.CreateTemp(filepath.Join(s.root, tmpDir), "put-*")
	if err != nil {
		return "", bare(err)
	}
	_, err = io.Copy(tmp, readerWithContext(ctx, r))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", bare(err)
	}
	return tmp.Name(), nil
}

// place puts the temporary file tmp at dst (key's path): a link when
// exclusive (blob.ErrExists when dst exists), else a rename. A concurrent
// Delete may prune the parent folder between MkdirAll and the link or
// rename; it tries again in that case.
func place(tmp, key, dst string, exclusive bool) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
		}
		if exclusive {
			err = os.Link(tmp, dst)
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", key, blob.ErrExists)
			}
		} else {
			err = os.Rename(tmp, dst)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
	}
	return nil
}

// Stage writes r to a temporary file of the store and syncs it; put then puts
// it in place under key, failing with blob.ErrExists when key exists (as
// PutIfAbsent), and discard drops it (after put too). A writer syncs an
// object this way while it syncs another, and puts it in place after that
// one: a dataset's manifest while its part file is moved in.
func (s *Store) Stage(ctx context.Context, r io.Reader) (put func(key string) error, discard func(), err error) {
	tmp, err := s.writeTemp(ctx, r)
	if err != nil {
		return nil, nil, fmt.Errorf("folderblob: stage: %w", err)
	}
	discard = func() { os.Remove(tmp) }
	put = func(key string) error {
		dst, err := s.path(key)
		if err != nil {
			return err
		}
		return place(tmp, key, dst, true)
	}
	return put, discard, nil
}

// MoveFile stores the local file at path under key by renaming it into the store (a
// copy when path is on another file system); the file is gone from path afterwards.
// Writers of large files (Parquet parts) save a copy this way.
func (s *Store) MoveFile(ctx context.Context, key, path string) error {
	dst, err := s.path(key)
	if err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
	}
	err = f.Sync()
	if err == nil {
		err = f.Chmod(0o600) // a writer's umask may have made it readable by others
	}
	f.Close()
	if err != nil {
		return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
	}
	for attempt := 0; ; attempt++ {
		if err = os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
		}
		err = os.Rename(path, dst)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			break
		}
	}
	if errors.Is(err, syscall.EXDEV) {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
		}
		defer os.Remove(path)
		defer f.Close()
		return s.put(ctx, key, f, false)
	}
	if err != nil {
		return fmt.Errorf("folderblob: put %s: %w", key, bare(err))
	}
	return nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, mapErr(key, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: %w", key, blob.ErrNotFound)
	}
	return f, nil
}

// Stat implements blob.Store.
func (s *Store) Stat(ctx context.Context, key string) (blob.Info, error) {
	p, err := s.path(key)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, mapErr(key, err)
	}
	if !fi.Mode().IsRegular() {
		return blob.Info{}, fmt.Errorf("%s: %w", key, blob.ErrNotFound)
	}
	return blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime().UTC()}, nil
}

// List implements blob.Store. It walks only the folder that contains the
// prefix, and yields keys in ascending byte order like S3.
func (s *Store) List(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	if s.mount != "" {
		return s.listMounted(ctx, prefix)
	}
	return func(yield func(blob.Info, error) bool) {
		// The deepest folder that every matching key lies under.
		dir := ""
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			dir = prefix[:i]
		}
		if strings.Contains(prefix, "\\") || (dir != "" && blob.CheckKey(dir) != nil) {
			return // no valid key can match
		}
		var walk func(rel string) bool
		walk = func(rel string) bool {
			if err := ctx.Err(); err != nil {
				return yield(blob.Info{}, err)
			}
			entries, err := os.ReadDir(filepath.Join(s.root, filepath.FromSlash(rel)))
			if errors.Is(err, fs.ErrNotExist) {
				return true
			}
			if err != nil {
				return yield(blob.Info{}, fmt.Errorf("folderblob: list %q: %w", prefix, bare(err)))
			}
			// Keys order by bytes with "/" between segments; a folder "a"
			// sorts as "a/", so compare names with that suffix.
			name := func(e fs.DirEntry) string {
				if e.IsDir() {
					return e.Name() + "/"
				}
				return e.Name()
			}
			slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(name(a), name(b)) })
			for _, e := range entries {
				key := blob.Join(rel, e.Name())
				if rel == "" && e.Name() == tmpDir {
					continue
				}
				if e.IsDir() {
					// Descend only if keys below can match the prefix.
					if k := key + "/"; strings.HasPrefix(k, prefix) || strings.HasPrefix(prefix, k) {
						if !walk(key) {
							return false
						}
					}
					continue
				}
				if !e.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
					continue
				}
				fi, err := e.Info()
				if errors.Is(err, fs.ErrNotExist) {
					continue // deleted meanwhile
				}
				if err != nil {
					return yield(blob.Info{}, err)
				}
				if !yield(blob.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime().UTC()}, nil) {
					return false
				}
			}
			return true
		}
		walk(dir)
	}
}

// listMounted lists the keys under the mount: the prefix is taken relative to
// it and the keys found are given back under it.
func (s *Store) listMounted(ctx context.Context, prefix string) iter.Seq2[blob.Info, error] {
	base := s.mount + "/"
	rel, ok := strings.CutPrefix(prefix, base)
	if !ok {
		if !strings.HasPrefix(base, prefix) {
			return func(func(blob.Info, error) bool) {} // no key of this store matches
		}
		rel = "" // the prefix names the whole mount
	}
	inner := &Store{root: s.root}
	return func(yield func(blob.Info, error) bool) {
		for fi, err := range inner.List(ctx, rel) {
			if err == nil {
				fi.Key = base + fi.Key
			}
			if !yield(fi, err) {
				return
			}
		}
	}
}

// Delete implements blob.Store. Folders left empty are removed.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("folderblob: delete %s: %w", key, bare(err))
	}
	for d := filepath.Dir(p); d != s.root && strings.HasPrefix(d, s.root); d = filepath.Dir(d) {
		if os.Remove(d) != nil { // not empty, or gone
			break
		}
	}
	return nil
}

func mapErr(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrInvalid) || isNotDir(err) {
		return fmt.Errorf("%s: %w", key, blob.ErrNotFound)
	}
	return fmt.Errorf("folderblob: %s: %w", key, bare(err))
}

// bare drops the file paths of an OS error (the key names the object; the
// store's folder is not for callers' messages).
func bare(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	}
	return err
}

// isNotDir reports ENOTDIR: a key below an object ("a/b" when "a" is a file).
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func readerWithContext(ctx context.Context, r io.Reader) io.Reader {
	if ctx.Done() == nil {
		return r
	}
	return ctxReader{ctx, r}
}
