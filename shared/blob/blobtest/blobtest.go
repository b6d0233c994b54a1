// Package blobtest is the contract suite every blob.Store adapter passes.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stepwise-run/stepwise/shared/blob"
)

// Options tune the suite for an adapter.
type Options struct {
	// ManyKeys is the key count of the listing test; default 1100, more
	// than one S3 ListObjectsV2 page.
	ManyKeys int
	// LargeSize is the size of the streamed object; default 20 MiB.
	LargeSize int64
}

// Run runs the contract suite. newStore returns an empty store; each subtest
// gets its own.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.ManyKeys == 0 {
		o.ManyKeys = 1100
	}
	if o.LargeSize == 0 {
		o.LargeSize = 20 << 20
	}
	ctx := context.Background()

	t.Run("PutGetStatDelete", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "a/b/c.txt", "hello")
		if got := mustGet(t, s, "a/b/c.txt"); got != "hello" {
			t.Fatalf("Get = %q, want hello", got)
		}
		info, err := s.Stat(ctx, "a/b/c.txt")
		if err != nil {
			t.Fatal(err)
		}
		if info.Key != "a/b/c.txt" || info.Size != 5 || info.ModTime.IsZero() {
			t.Fatalf("Stat = %+v", info)
		}
		mustPut(t, s, "a/b/c.txt", "replaced")
		if got := mustGet(t, s, "a/b/c.txt"); got != "replaced" {
			t.Fatalf("Get after overwrite = %q", got)
		}
		mustPut(t, s, "empty", "")
		if got := mustGet(t, s, "empty"); got != "" {
			t.Fatalf("empty object = %q", got)
		}
		if err := s.Delete(ctx, "a/b/c.txt"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "a/b/c.txt"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "a/b/c.txt"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "dir/x", "1")
		for _, key := range []string{"missing", "dir/missing", "dir", "dir/x/y"} {
			if _, err := s.Get(ctx, key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Get(%q): %v, want ErrNotFound", key, err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat(%q): %v, want ErrNotFound", key, err)
			}
		}
	})

	t.Run("InvalidKeys", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"", "/abs", "a//b", "../up", "a/./b", "a/"} {
			if err := s.Put(ctx, key, strings.NewReader("x")); err == nil {
				t.Errorf("Put(%q) accepted an invalid key", key)
			}
		}
	})

	t.Run("PutIfAbsent", func(t *testing.T) {
		s := newStore(t)
		if err := s.PutIfAbsent(ctx, "k", strings.NewReader("first")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutIfAbsent(ctx, "k", strings.NewReader("second")); !errors.Is(err, blob.ErrExists) {
			t.Fatalf("second PutIfAbsent: %v, want ErrExists", err)
		}
		if got := mustGet(t, s, "k"); got != "first" {
			t.Fatalf("object = %q, want first", got)
		}
	})

	t.Run("PutIfAbsentRace", func(t *testing.T) {
		s := newStore(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				body := strings.Repeat(fmt.Sprintf("writer %d;", i), 1000)
				errs[i] = s.PutIfAbsent(ctx, "race/manifest.json", strings.NewReader(body))
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("writers %d and %d both won", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, blob.ErrExists):
				t.Fatalf("writer %d: %v, want nil or ErrExists", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no writer won")
		}
		want := strings.Repeat(fmt.Sprintf("writer %d;", winner), 1000)
		if got := mustGet(t, s, "race/manifest.json"); got != want {
			t.Fatalf("stored object is not the winner's (%d bytes)", len(got))
		}
	})

	t.Run("LargeStreaming", func(t *testing.T) {
		s := newStore(t)
		// The source is generated on the fly and the check hashes the
		// stream, so the test itself never holds the object in memory.
		src := &patternReader{left: o.LargeSize, rng: rand.New(rand.NewPCG(1, 2))}
		h := sha256.New()
		if err := s.Put(ctx, "big/object.bin", io.TeeReader(src, h)); err != nil {
			t.Fatal(err)
		}
		want := h.Sum(nil)
		info, err := s.Stat(ctx, "big/object.bin")
		if err != nil || info.Size != o.LargeSize {
			t.Fatalf("Stat = %+v, %v; want size %d", info, err, o.LargeSize)
		}
		rc, err := s.Get(ctx, "big/object.bin")
		if err != nil {
			t.Fatal(err)
		}
		h.Reset()
		n, err := io.Copy(h, rc)
		rc.Close()
		if err != nil || n != o.LargeSize || !bytes.Equal(h.Sum(nil), want) {
			t.Fatalf("read back %d bytes (err %v), hash match %v", n, err, bytes.Equal(h.Sum(nil), want))
		}
		// A large PutIfAbsent on an existing key fails and keeps the object.
		err = s.PutIfAbsent(ctx, "big/object.bin", &patternReader{left: o.LargeSize, rng: rand.New(rand.NewPCG(3, 4))})
		if !errors.Is(err, blob.ErrExists) {
			t.Fatalf("large PutIfAbsent on existing key: %v, want ErrExists", err)
		}
		if info2, _ := s.Stat(ctx, "big/object.bin"); info2.Size != o.LargeSize {
			t.Fatalf("object changed: %+v", info2)
		}
	})

	t.Run("FailedPutLeavesNothing", func(t *testing.T) {
		s := newStore(t)
		boom := errors.New("source failed")
		r := io.MultiReader(strings.NewReader("partial data"), errReader{boom})
		if err := s.Put(ctx, "broken", r); err == nil {
			t.Fatal("Put succeeded on a failing reader")
		}
		if _, err := s.Stat(ctx, "broken"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Stat after failed Put: %v, want ErrNotFound", err)
		}
		if keys, err := blob.Keys(ctx, s, ""); err != nil || len(keys) != 0 {
			t.Fatalf("List after failed Put = %v, %v; want nothing", keys, err)
		}
	})

	t.Run("List", func(t *testing.T) {
		s := newStore(t)
		// Byte order puts "-" and "." before "/" and "0" after it. No key
		// is a folder of another (see blob.Store).
		keys := []string{"a-b", "a.txt", "a/1", "a/2/x", "a/2/y", "a0", "ab/c", "b/z"}
		for _, k := range slices.Backward(keys) {
			mustPut(t, s, k, k)
		}
		cases := map[string][]string{
			"":     keys,
			"a":    {"a-b", "a.txt", "a/1", "a/2/x", "a/2/y", "a0", "ab/c"},
			"a/":   {"a/1", "a/2/x", "a/2/y"},
			"a/2":  {"a/2/x", "a/2/y"},
			"a/2/": {"a/2/x", "a/2/y"},
			"ab":   {"ab/c"},
			"b/z":  {"b/z"},
			"c":    nil,
			"a/3/": nil,
		}
		for prefix, want := range cases {
			got, err := blob.Keys(ctx, s, prefix)
			if err != nil {
				t.Fatalf("List(%q): %v", prefix, err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%q) = %v, want %v", prefix, got, want)
			}
		}
		for info, err := range s.List(ctx, "a/2/x") {
			if err != nil || info.Key != "a/2/x" || info.Size != 5 {
				t.Errorf("List info = %+v, %v", info, err)
			}
		}
		// Stopping early is allowed.
		for range s.List(ctx, "") {
			break
		}
	})

	t.Run("ListMany", func(t *testing.T) {
		s := newStore(t)
		want := make([]string, o.ManyKeys)
		for i := range want {
			want[i] = fmt.Sprintf("many/%05d", i)
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		errs := make(chan error, len(want))
		for _, k := range want {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := s.Put(ctx, k, strings.NewReader("x")); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		mustPut(t, s, "other", "x")
		got, err := blob.Keys(ctx, s, "many/")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("listed %d keys, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
		}
	})
}

func mustPut(t *testing.T, s blob.Store, key, body string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(body)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s blob.Store, key string) string {
	t.Helper()
	b, err := blob.ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(b)
}

// patternReader yields left pseudo-random bytes.
type patternReader struct {
	left int64
	rng  *rand.Rand
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), r.left))
	for i := 0; i < n; i += 8 {
		v := r.rng.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			p[i+j] = byte(v >> (8 * j))
		}
	}
	r.left -= int64(n)
	return n, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
