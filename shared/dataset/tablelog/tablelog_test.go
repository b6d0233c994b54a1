package tablelog_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/stepwise-run/stepwise/shared/aws/s3blob"
	"github.com/stepwise-run/stepwise/shared/blob"
	"github.com/stepwise-run/stepwise/shared/dataset/tablelog"
	"github.com/stepwise-run/stepwise/shared/local/folderblob"
	"github.com/stepwise-run/stepwise/shared/state"
)

var t0 = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

// stores runs a test against a folder warehouse and an S3 one (gofakes3,
// which honours If-None-Match like S3).
func stores(t *testing.T, test func(t *testing.T, newStore func() blob.Store)) {
	t.Run("folder", func(t *testing.T) {
		dir := t.TempDir()
		test(t, func() blob.Store {
			// A store per home, all on one folder.
			s, err := folderblob.New(dir)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
	t.Run("s3", func(t *testing.T) {
		ts := httptest.NewServer(gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true)).Server())
		t.Cleanup(ts.Close)
		test(t, func() blob.Store {
			client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true, Credentials: aws.AnonymousCredentials{}})
			return s3blob.New(client, "bucket", "shared/")
		})
	})
}

func TestCommitAndRead(t *testing.T) {
	stores(t, func(t *testing.T, newStore func() blob.Store) {
		ctx := context.Background()
		l := tablelog.New(newStore(), nil)
		cur, err := l.CurrentTable(ctx, "customers")
		if !errors.Is(err, state.ErrNotFound) || cur.Version != 0 {
			t.Fatalf("before the first commit: %+v, %v", cur, err)
		}
		v1, err := l.CommitTable(ctx, "customers", 0, "warehouse/customers/v1", t0)
		if err != nil || v1.Version != 1 || !v1.CommittedAt.Equal(t0) {
			t.Fatalf("v1 = %+v, %v", v1, err)
		}
		for _, expected := range []int64{0, 1 + 1, 5} {
			if _, err := l.CommitTable(ctx, "customers", expected, "warehouse/customers/lost", t0); !errors.Is(err, state.ErrConflict) {
				t.Errorf("commit expecting %d: %v, want ErrConflict", expected, err)
			}
		}
		for _, bad := range []struct {
			table, ref string
		}{{"customers", ""}, {"", "r"}, {"a/b", "r"}, {"..", "r"}} {
			if _, err := l.CommitTable(ctx, bad.table, 1, bad.ref, t0); !errors.Is(err, state.ErrInvalid) {
				t.Errorf("commit %q %q: %v, want ErrInvalid", bad.table, bad.ref, err)
			}
		}
		v2, err := l.CommitTable(ctx, "customers", 1, "warehouse/customers/v2", t0.Add(time.Minute))
		if err != nil || v2.Version != 2 {
			t.Fatalf("v2 = %+v, %v", v2, err)
		}
		// Another home (its own store value, same warehouse) reads the same head.
		other := tablelog.New(newStore(), nil)
		if cur, err := other.CurrentTable(ctx, "customers"); err != nil || cur != v2 {
			t.Fatalf("other home reads %+v, %v; want %+v", cur, err, v2)
		}
		hist, err := other.TableHistory(ctx, "customers")
		if err != nil || len(hist) != 2 || hist[0] != v2 || hist[1] != v1 {
			t.Fatalf("history %+v, %v", hist, err)
		}
		if _, err := other.CurrentTable(ctx, "purchases"); !errors.Is(err, state.ErrNotFound) {
			t.Fatalf("another table: %v", err)
		}
	})
}

// The head hint is only a hint: missing, behind, past the markers or
// garbage, readers still find the highest committed version.
func TestHintIsOnlyAHint(t *testing.T) {
	stores(t, func(t *testing.T, newStore func() blob.Store) {
		ctx := context.Background()
		s := newStore()
		l := tablelog.New(s, nil)
		for i := range int64(3) {
			if _, err := l.CommitTable(ctx, "t", i, fmt.Sprintf("ref%d", i+1), t0); err != nil {
				t.Fatal(err)
			}
		}
		for name, hint := range map[string]string{"behind": `{"version":1}`, "past": `{"version":9}`, "garbage": `{`, "negative": `{"version":-4}`, "missing": ""} {
			if hint == "" {
				s.Delete(ctx, "warehouse/t/head.json")
			} else if err := s.Put(ctx, "warehouse/t/head.json", strings.NewReader(hint)); err != nil {
				t.Fatal(err)
			}
			if cur, err := l.CurrentTable(ctx, "t"); err != nil || cur.Version != 3 || cur.Ref != "ref3" {
				t.Errorf("hint %s: %+v, %v; want version 3", name, cur, err)
			}
		}
	})
}

// A damaged marker is an error that names it, never a silent fallback.
func TestDamagedMarker(t *testing.T) {
	ctx := context.Background()
	s, err := folderblob.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := tablelog.New(s, nil)
	if _, err := l.CommitTable(ctx, "t", 0, "ref1", t0); err != nil {
		t.Fatal(err)
	}
	key := "warehouse/t/commits/00000000000000000001.json"
	if err := s.Put(ctx, key, strings.NewReader(`{"table":"t","version":2,"ref":"x"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.CurrentTable(ctx, "t"); err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("damaged marker: %v, want an error naming %s", err, key)
	}
}

// Three homes (separate state stores, one warehouse) each add to a counter
// many times at once, read-modify-write with retries: the total is exact.
// The counter's value is the version's ref, so a lost update shows.
func TestConcurrentHomesNeverLoseAnUpdate(t *testing.T) {
	stores(t, func(t *testing.T, newStore func() blob.Store) {
		ctx := context.Background()
		const homes, adds, step = 3, 5, 11
		var wg sync.WaitGroup
		errs := make([]error, homes)
		var lost atomic.Int64
		start := make(chan struct{})
		for h := range homes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := tablelog.New(newStore(), &legacy{})
				<-start
				for range adds {
					errs[h] = increment(ctx, l, step, &lost)
					if errs[h] != nil {
						return
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		for h, err := range errs {
			if err != nil {
				t.Fatalf("home %d: %v", h, err)
			}
		}
		cur, err := tablelog.New(newStore(), nil).CurrentTable(ctx, "counter")
		if err != nil {
			t.Fatal(err)
		}
		if cur.Ref != strconv.Itoa(homes*adds*step) || cur.Version != homes*adds {
			t.Fatalf("counter = %s at version %d, want %d at version %d", cur.Ref, cur.Version, homes*adds*step, homes*adds)
		}
		if lost.Load() == 0 {
			t.Error("no commit race happened: the test proves nothing")
		}
	})
}

func increment(ctx context.Context, l *tablelog.Log, step int, lost *atomic.Int64) error {
	for range 200 {
		cur, err := l.CurrentTable(ctx, "counter")
		if err != nil && !errors.Is(err, state.ErrNotFound) {
			return err
		}
		n := 0
		if cur.Ref != "" {
			n, _ = strconv.Atoi(cur.Ref)
		}
		_, err = l.CommitTable(ctx, "counter", cur.Version, strconv.Itoa(n+step), t0)
		if !errors.Is(err, state.ErrConflict) {
			return err
		}
		lost.Add(1)
	}
	return errors.New("200 lost races in a row")
}

// legacy is a state store's table history, newest first.
type legacy struct {
	hist  []state.TableVersion
	reads atomic.Int64
}

func (g *legacy) TableHistory(_ context.Context, table string) ([]state.TableVersion, error) {
	g.reads.Add(1)
	var out []state.TableVersion
	for _, v := range g.hist {
		if v.Table == table {
			out = append(out, v)
		}
	}
	return out, nil
}

func history(table string, refs ...string) []state.TableVersion {
	var out []state.TableVersion
	for i := len(refs) - 1; i >= 0; i-- {
		out = append(out, state.TableVersion{Table: table, Version: int64(i + 1), Ref: refs[i], CommittedAt: t0})
	}
	return out
}

// A home whose table head is only in its state store keeps its history: the
// first read copies it into the warehouse; a second home that had forked
// the table before the upgrade then reads the warehouse's history.
func TestLegacyHeadsMigrate(t *testing.T) {
	stores(t, func(t *testing.T, newStore func() blob.Store) {
		ctx := context.Background()
		a := tablelog.New(newStore(), &legacy{hist: history("customers", "a1", "a2", "a3")})
		cur, err := a.CurrentTable(ctx, "customers")
		if err != nil || cur.Version != 3 || cur.Ref != "a3" {
			t.Fatalf("migrated head %+v, %v", cur, err)
		}
		hist, err := tablelog.New(newStore(), nil).TableHistory(ctx, "customers")
		if err != nil || len(hist) != 3 || hist[2].Ref != "a1" {
			t.Fatalf("migrated history %+v, %v", hist, err)
		}
		// A first commit from a home that never read the table still lands
		// on top of its legacy history.
		c := tablelog.New(newStore(), &legacy{hist: history("purchases", "p1")})
		if _, err := c.CommitTable(ctx, "purchases", 0, "p-lost", t0); !errors.Is(err, state.ErrConflict) {
			t.Fatalf("commit over a legacy history: %v, want ErrConflict", err)
		}
		if cur, err := c.CurrentTable(ctx, "purchases"); err != nil || cur.Ref != "p1" {
			t.Fatalf("purchases %+v, %v", cur, err)
		}
		g := &legacy{hist: history("customers", "b1", "b2")}
		b := tablelog.New(newStore(), g)
		cur, err = b.CurrentTable(ctx, "customers")
		if err != nil || cur.Ref != "a3" {
			t.Fatalf("forked home reads %+v, %v; want the warehouse's a3", cur, err)
		}
		if g.reads.Load() != 0 {
			t.Errorf("the legacy store was read %d times once the warehouse had the table", g.reads.Load())
		}
		if v, err := b.CommitTable(ctx, "customers", 3, "b-next", t0); err != nil || v.Version != 4 {
			t.Fatalf("commit after migration %+v, %v", v, err)
		}
	})
}

// Homes migrating the same legacy history at once agree.
func TestConcurrentMigration(t *testing.T) {
	stores(t, func(t *testing.T, newStore func() blob.Store) {
		ctx := context.Background()
		hist := history("t", "r1", "r2", "r3", "r4")
		var wg sync.WaitGroup
		got := make([]state.TableVersion, 8)
		errs := make([]error, 8)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = tablelog.New(newStore(), &legacy{hist: hist}).CurrentTable(ctx, "t")
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || got[i].Version != 4 || got[i].Ref != "r4" {
				t.Errorf("reader %d: %+v, %v", i, got[i], errs[i])
			}
		}
	})
}
