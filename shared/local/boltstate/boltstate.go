// Package boltstate is the embedded state store of local mode: state.Store on a single
// bbolt file under the local home directory. Every write runs in one bbolt transaction,
// which serializes writers and gives the store its conditional semantics. bbolt locks
// the file while it is open, so the Store opens it per transaction (see Store): several
// processes share a home, each holding the file for milliseconds at a time.
package boltstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/stepwise-run/stepwise/shared/failure"
	"github.com/stepwise-run/stepwise/shared/state"
)

// FileName is the name of the database file in the home directory.
const FileName = "state.db"

// Buckets. Keys are parts joined by a NUL byte; the part after the last NUL is the sort
// key lists page on.
var (
	bCampaigns       = []byte("campaigns")       // id
	bVersions        = []byte("versions")        // campaign, %010d number
	bRuns            = []byte("runs")            // id
	bRunsByCampaign  = []byte("runsByCampaign")  // campaign, timekey#id → id
	bRunKeys         = []byte("runKeys")         // campaign, idempotency key → id
	bTasks           = []byte("tasks")           // run, activity
	bTables          = []byte("tables")          // table
	bTableHistory    = []byte("tableHistory")    // table, %020d version
	bAudiences       = []byte("audiences")       // name
	bAudienceHistory = []byte("audienceHistory") // name, %020d version
	bIncrementals    = []byte("incrementals")    // campaign, activity
	bKeys            = []byte("keys")            // key
	bSends           = []byte("sends")           // run, activity, channel#recipient
	bSuppressions    = []byte("suppressions")    // channel, address
	bCaps            = []byte("caps")            // channel, recipient
	bFirings         = []byte("firings")         // campaign, timekey
	buckets          = [][]byte{bCampaigns, bVersions, bRuns, bRunsByCampaign, bRunKeys, bTasks, bTables, bTableHistory,
		bAudiences, bAudienceHistory, bIncrementals, bKeys, bSends, bSuppressions, bCaps, bFirings}
)

// Store is state.Store on bbolt. It holds the file only while transactions
// run (a lease): it opens the file for the first of them, lets concurrent ones
// share it, and closes it when none is left for linger, or as soon as another
// process waits for it (after minHold, or at once when idle), so that a
// `stepwise runs` beside a run or a server waits about one transaction.
type Store struct {
	path string
	lock *os.File // path + ".lock": flock'd around each lease, blocking
	want *os.File // path + ".want": flock'd shared by the processes waiting for lock

	gate     sync.RWMutex // transactions hold it shared; release takes it whole
	mu       sync.Mutex   // db, since, inflight, closed
	db       *bolt.DB
	since    time.Time
	inflight int
	closed   bool
	timeout  time.Duration
	idle     *time.Timer
	last     time.Time // the last transaction ended
}

var _ state.Store = (*Store)(nil)

// A lease another process waits for is given back once it has been held for
// minHold (so that the holder makes progress too). An idle lease is kept for
// linger, so that a run's transactions one after another do not reopen the
// file each time.
const (
	minHold = 5 * time.Millisecond
	linger  = 10 * time.Millisecond
)

// Open opens (creating it if needed) the store in home/state.db. A process of
// an older version holding the file open is waited for up to 5 s.
func Open(home string) (*Store, error) { return open(home, 5*time.Second) }

func open(home string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(home, FileName)
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("boltstate: open %s: %w", path, err)
	}
	want, err := os.OpenFile(path+".want", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("boltstate: open %s: %w", path, err)
	}
	s := &Store{path: path, lock: lock, want: want, timeout: timeout}
	err = s.update(context.Background(), func(tx *bolt.Tx) error {
		for _, b := range buckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// acquire returns the open file, opening it (and taking the lock) if this
// process holds no lease. The caller holds s.gate shared.
func (s *Store) acquire() (*bolt.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, berrors.ErrDatabaseNotOpen
	}
	if s.db == nil {
		if err := s.lockFile(); err != nil {
			return nil, fmt.Errorf("boltstate: lock %s: %w", s.path, err)
		}
		// The freelist is synced so that opening reads one page instead of
		// scanning the file; a file written without it is scanned once.
		db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: s.timeout, FreelistType: bolt.FreelistMapType})
		if err != nil {
			syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
			if errors.Is(err, berrors.ErrTimeout) {
				err = failure.Transient(err) // an older process holds the file: it may let go
			}
			return nil, fmt.Errorf("boltstate: open %s: %w", s.path, err)
		}
		// Group commits of the send ledger (batch) wait at most this long for
		// company: short enough for a lone writer, long enough for a slice's workers.
		db.MaxBatchDelay = 2 * time.Millisecond
		s.db, s.since = db, time.Now()
	}
	s.inflight++
	return s.db, nil
}

// lockFile takes the lock of the file. While another process has it, it
// says so on the want file, which the holder looks at after each transaction.
func (s *Store) lockFile() error {
	err := syscall.Flock(int(s.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return err
	}
	if err := syscall.Flock(int(s.want.Fd()), syscall.LOCK_SH); err != nil {
		return err
	}
	defer syscall.Flock(int(s.want.Fd()), syscall.LOCK_UN)
	return syscall.Flock(int(s.lock.Fd()), syscall.LOCK_EX)
}

// wanted tells whether another process waits for the file.
func (s *Store) wanted() bool {
	err := syscall.Flock(int(s.want.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		syscall.Flock(int(s.want.Fd()), syscall.LOCK_UN)
	}
	return errors.Is(err, syscall.EWOULDBLOCK)
}

// done ends one transaction's use of the lease and reports whether the lease
// should be given back now: another process waits, and the lease is idle or
// has been held for minHold. Once idle, it is given back after linger, unless
// another transaction comes first.
func (s *Store) done() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	s.last = time.Now()
	if (s.inflight == 0 || time.Since(s.since) > minHold) && s.wanted() {
		return true
	}
	if s.inflight == 0 {
		if s.idle == nil {
			s.idle = time.AfterFunc(linger, s.releaseIdle)
		} else {
			s.idle.Reset(linger)
		}
	}
	return false
}

// releaseIdle is release for a lease nobody uses: a transaction under way or
// begun since keeps it (the last to end arms the timer again).
func (s *Store) releaseIdle() {
	if !s.gate.TryLock() {
		return
	}
	s.gate.Unlock()
	s.mu.Lock()
	busy := s.inflight > 0 || time.Since(s.last) < linger
	s.mu.Unlock()
	if !busy {
		s.release()
	}
}

// release closes the file and unlocks it once the transactions under way
// have ended; new ones wait meanwhile, then open it again.
func (s *Store) release() error {
	s.gate.Lock()
	defer s.gate.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.db == nil || s.inflight > 0 {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	if uerr := syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN); err == nil {
		err = uerr
	}
	return err
}

// Close gives the file back; later calls fail.
func (s *Store) Close() error {
	err := s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return err
	}
	s.closed = true
	if s.idle != nil {
		s.idle.Stop()
	}
	for _, f := range []*os.File{s.lock, s.want} {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (s *Store) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	return s.tx(ctx, (*bolt.DB).View, fn)
}

func (s *Store) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	return s.tx(ctx, (*bolt.DB).Update, fn)
}

// batch is update for the send ledger's many small concurrent writes: bbolt
// coalesces concurrent calls into one transaction and one fsync. fn may run
// more than once, so it must reset whatever it reports.
func (s *Store) batch(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	return s.tx(ctx, (*bolt.DB).Batch, fn)
}

// tx runs fn in a transaction of run (View, Update or Batch) under a lease. A
// failure of bbolt rather than of fn (writing, syncing or growing the file)
// may pass: it is marked transient, unless the store is closed or damaged.
func (s *Store) tx(ctx context.Context, run func(*bolt.DB, func(*bolt.Tx) error) error, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.gate.RLock()
	db, err := s.acquire()
	if err != nil {
		s.gate.RUnlock()
		return err
	}
	var fnErr error
	err = run(db, func(tx *bolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	giveBack := s.done()
	s.gate.RUnlock()
	if giveBack {
		if rerr := s.release(); rerr != nil && err == nil {
			err = failure.Transient(rerr)
		}
	}
	if err == nil || err == fnErr {
		return err
	}
	for _, permanent := range []error{berrors.ErrDatabaseNotOpen, berrors.ErrDatabaseReadOnly, berrors.ErrInvalid, berrors.ErrChecksum, berrors.ErrVersionMismatch} {
		if errors.Is(err, permanent) {
			return err
		}
	}
	return failure.Transient(err)
}

// casUpdate changes the value at k with fn and keeps the decoding and
// encoding (encodeValue) out of bbolt's group commit, which runs its functions one after another: it
// reads and decodes the value in a read transaction, applies fn, encodes the
// result, and commits it only if the stored bytes are still those it read,
// starting over otherwise. fn gets the zero value and found=false for a
// missing key; write=false leaves the store as it is and returns fn's value.
func casUpdate[T any](ctx context.Context, s *Store, bucket, k []byte, fn func(cur T, found bool) (next T, write bool, err error)) (T, error) {
	for {
		var raw []byte
		err := s.view(ctx, func(tx *bolt.Tx) error {
			if v := tx.Bucket(bucket).Get(k); v != nil {
				raw = bytes.Clone(v)
			}
			return nil
		})
		var cur T
		if err == nil && raw != nil {
			err = decodeValue(k, raw, &cur)
		}
		if err != nil {
			return cur, err
		}
		next, write, err := fn(cur, raw != nil)
		if err != nil || !write {
			return next, err
		}
		data, err := encodeValue(next)
		if err != nil {
			return next, err
		}
		changed := false
		err = s.batch(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			if changed = !bytes.Equal(b.Get(k), raw); changed {
				return nil
			}
			return b.Put(k, data)
		})
		if err != nil {
			return next, err
		}
		if !changed {
			return next, nil
		}
	}
}

// casUpdates is casUpdate for many keys in one read transaction and one group
// commit: fn(i, …) changes the value at keys[i] (it may fail for that key
// alone: errs[i]); the writes whose stored bytes are still those read are
// committed together, and the others (a racing writer, or the same key twice)
// start over. An error from the store fails the call.
func casUpdates[T any](ctx context.Context, s *Store, bucket []byte, keys [][]byte, fn func(i int, cur T, found bool) (next T, write bool, err error)) (vals []T, errs []error, err error) {
	vals, errs = make([]T, len(keys)), make([]error, len(keys))
	todo := make([]int, len(keys))
	for i := range todo {
		todo[i] = i
	}
	for len(todo) > 0 {
		raws := make([][]byte, len(todo))
		err := s.view(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucket)
			for j, i := range todo {
				if v := b.Get(keys[i]); v != nil {
					raws[j] = bytes.Clone(v)
				}
			}
			return nil
		})
		if err != nil {
			return vals, errs, err
		}
		datas := make([][]byte, len(todo))
		for j, i := range todo {
			var cur T
			if raws[j] != nil {
				if err := decodeValue(keys[i], raws[j], &cur); err != nil {
					return vals, errs, err
				}
			}
			next, write, ferr := fn(i, cur, raws[j] != nil)
			vals[i], errs[i] = next, ferr
			if ferr != nil || !write {
				continue
			}
			if datas[j], err = encodeValue(next); err != nil {
				return vals, errs, err
			}
		}
		var again []int
		err = s.batch(ctx, func(tx *bolt.Tx) error {
			again = again[:0] // fn may run more than once
			b := tx.Bucket(bucket)
			for j, i := range todo {
				if datas[j] == nil {
					continue
				}
				if !bytes.Equal(b.Get(keys[i]), raws[j]) {
					again = append(again, i)
					continue
				}
				if err := b.Put(keys[i], datas[j]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return vals, errs, err
		}
		todo = append([]int(nil), again...)
	}
	return vals, errs, nil
}

func key(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

// prefix is the key prefix of every key whose leading parts are parts.
func prefix(parts ...string) []byte {
	return append(key(parts...), 0)
}

func number(n int64, width int) string { return fmt.Sprintf("%0*d", width, n) }

// get decodes the value at k into v; false if absent.
func get(b *bolt.Bucket, k []byte, v any) (bool, error) {
	data := b.Get(k)
	if data == nil {
		return false, nil
	}
	return true, decodeValue(k, data, v)
}

// put stores v at k and returns v as stored (decoded back, as a later read sees it).
func put[T any](b *bolt.Bucket, k []byte, v T) (T, error) {
	var out T
	data, err := json.Marshal(v)
	if err != nil {
		return out, err
	}
	if err := b.Put(k, data); err != nil {
		return out, err
	}
	return out, json.Unmarshal(data, &out)
}

// scan decodes the values under pre in key order (descending when reverse), starting
// after the sort key p.After, and returns at most p.Limit of them with the next cursor.
func scan[T any](b *bolt.Bucket, pre []byte, p state.Page, reverse bool) ([]T, string, error) {
	var out []T
	next, err := walk(b, pre, p, reverse, func(k, v []byte) error {
		var t T
		err := decodeValue(k, v, &t)
		out = append(out, t)
		return err
	})
	return out, next, err
}

// scanRaw is scan for values that are plain strings.
func scanRaw(b *bolt.Bucket, pre []byte, p state.Page, reverse bool) ([]string, string, error) {
	var out []string
	next, err := walk(b, pre, p, reverse, func(_, v []byte) error {
		out = append(out, string(v))
		return nil
	})
	return out, next, err
}

// walk calls fn with the values scan visits and returns the next cursor.
func walk(b *bolt.Bucket, pre []byte, p state.Page, reverse bool, fn func(k, v []byte) error) (string, error) {
	c := b.Cursor()
	var k, v []byte
	start := append(bytes.Clone(pre), p.After...)
	switch {
	case !reverse && p.After == "":
		k, v = c.Seek(pre)
	case !reverse:
		if k, v = c.Seek(start); bytes.Equal(k, start) {
			k, v = c.Next()
		}
	default:
		if p.After == "" {
			if len(start) == 0 {
				start = nil
			} else {
				start[len(start)-1]++ // just past every key with the prefix (which ends in NUL)
			}
		}
		if start == nil {
			k, v = c.Last()
		} else if k, _ = c.Seek(start); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	n, last, more := 0, "", false
	for ; k != nil && bytes.HasPrefix(k, pre); k, v = step(c, reverse) {
		if p.Limit > 0 && n == p.Limit {
			more = true
			break
		}
		if err := fn(k, v); err != nil {
			return "", err
		}
		n++
		last = string(k[len(pre):])
	}
	if !more {
		last = ""
	}
	return last, nil
}

func step(c *bolt.Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

func notFound(what string, id ...any) error {
	return fmt.Errorf("%w: %s %v", state.ErrNotFound, what, id)
}
