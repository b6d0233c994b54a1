// Package outbox is the local sender: every message is appended as one JSON
// line to <dir>/<run>/<activity>.jsonl, where tests and people read it.
//
// An append is one write(2) of whole lines on a file opened with O_APPEND
// (one line for Send, a group's lines for SendGroup): once the call returns,
// the lines are in the kernel and survive the process (not a power cut: the
// outbox is for local runs). An append is whole or nothing: a short or
// failed write (a full disk) is cut back to where it started, and opening a
// file cut by a crash mid-write drops its torn tail (the lines before it are
// messages sent). A reader skips a torn line. The message id is derived from the
// idempotency key, and Find looks a key up, so a send interrupted between
// the outbox and the ledger is settled exactly once.
//
// The files hold personal data (addresses, rendered messages): they are
// created 0600 in folders 0700, whatever the umask.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/send"
)

// Record is one line of the outbox.
type Record struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
	send.Message
}

// Outbox is a send.Sender writing under a folder.
type Outbox struct {
	dir   string
	clock func() time.Time

	// open opens a file for appending (os.OpenFile; tests inject a full disk).
	open func(path string) (File, error)

	mu    sync.Mutex
	files map[string]*appender
	index map[string]string // idempotency key → id; nil until Find needs it
}

// File is what the outbox needs of an open file.
type File interface {
	Write(p []byte) (int, error)
	ReadAt(p []byte, off int64) (int, error)
	Truncate(size int64) error
	Stat() (os.FileInfo, error)
	Close() error
}

// appender is an open outbox file and the size of its complete lines.
type appender struct {
	f    File
	path string
	size int64
}

const (
	fileMode = 0o600
	dirMode  = 0o700
)

var (
	_ send.Sender = (*Outbox)(nil)
	_ send.Finder = (*Outbox)(nil)
)

// New returns an outbox writing under dir (created on first send).
func New(dir string) *Outbox {
	return &Outbox{dir: dir, clock: time.Now, files: map[string]*appender{}, open: openFile}
}

// Dir is the outbox folder.
func (o *Outbox) Dir() string { return o.dir }

// ID is the message id the outbox gives a message with key.
func ID(key string) string { return "outbox-" + strings.TrimPrefix(key, "sw-") }

// Send implements send.Sender.
func (o *Outbox) Send(ctx context.Context, m *send.Message) (string, error) {
	ids, errs := o.SendGroup(ctx, []*send.Message{m})
	return ids[0], errs[0]
}

// SendGroup implements send.GroupSender: the lines of a group's messages
// that go to one file are one write(2), whole or nothing (a short or failed
// write is cut back to where the group started, and every message of it
// fails). A crash mid-write leaves the group's complete lines (those
// messages are sent) and a torn tail, which the next open cuts.
func (o *Outbox) SendGroup(ctx context.Context, ms []*send.Message) ([]string, []error) {
	ids, errs := make([]string, len(ms)), make([]error, len(ms))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return ids, errs
	}
	at := o.clock().UTC()
	// The group's lines, by file in the order of first appearance.
	type chunk struct {
		name       string
		msgs       []int // indexes into ms
		start, end int   // the lines in buf
	}
	var chunks []*chunk
	byName := map[string]*chunk{}
	for i, m := range ms {
		switch {
		case m.To == "":
			errs[i] = &send.Permanent{Msg: "no recipient address"}
			continue
		case m.IdempotencyKey == "":
			errs[i] = &send.Permanent{Msg: "no idempotency key", Account: true}
			continue
		}
		name := fileName(m.Tags)
		c := byName[name]
		if c == nil {
			c = &chunk{name: name}
			byName[name] = c
			chunks = append(chunks, c)
		}
		c.msgs = append(c.msgs, i)
	}
	bp := bufs.Get().(*[]byte)
	defer bufs.Put(bp)
	buf := (*bp)[:0]
	for _, c := range chunks {
		c.start = len(buf)
		for _, i := range c.msgs {
			ids[i] = ID(ms[i].IdempotencyKey)
			rec := Record{ID: ids[i], At: at, Message: *ms[i]}
			if !recordFits(&rec) {
				for _, c := range chunks {
					for _, i := range c.msgs {
						ids[i], errs[i] = "", &send.Permanent{Msg: "outbox: the clock is outside the years JSON holds: " + at.String()}
					}
				}
				return ids, errs
			}
			buf = appendRecord(buf, &rec) // one line, ending with \n
		}
		c.end = len(buf)
	}
	*bp = buf
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range chunks {
		err := o.appendLines(c.name, buf[c.start:c.end])
		for _, i := range c.msgs {
			if err != nil {
				ids[i], errs[i] = "", err
			} else if o.index != nil {
				o.index[ms[i].IdempotencyKey] = ids[i]
			}
		}
	}
	return ids, errs
}

// bufs holds the buffers of groups' lines (a group of 256 emails is ~1 MB:
// fresh memory each time costs more than the encoding).
var bufs = sync.Pool{New: func() any { return new([]byte) }}

// appendLines appends whole lines to the file name. The caller holds o.mu.
func (o *Outbox) appendLines(name string, lines []byte) error {
	a, err := o.file(name)
	if err != nil {
		return &send.Transient{Msg: "outbox: " + err.Error()}
	}
	if err := a.append(lines); err != nil {
		// Reopening repairs the file should cutting the lines back have failed.
		a.f.Close()
		delete(o.files, name)
		return &send.Transient{Msg: err.Error()}
	}
	return nil
}

// Find implements send.Finder.
func (o *Outbox) Find(ctx context.Context, channel, key string) (string, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.index == nil {
		idx := map[string]string{}
		err := walk(o.dir, func(r Record) {
			idx[r.IdempotencyKey] = r.ID
		})
		if err != nil {
			return "", false, err
		}
		o.index = idx
	}
	id, ok := o.index[key]
	return id, ok, nil
}

// Close closes the open files.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for k, a := range o.files {
		errs = append(errs, a.f.Close())
		delete(o.files, k)
	}
	return errors.Join(errs...)
}

func (o *Outbox) file(name string) (*appender, error) {
	if a, ok := o.files[name]; ok {
		return a, nil
	}
	p := filepath.Join(o.dir, name)
	if err := mkdirs(o.dir, filepath.Dir(p)); err != nil {
		return nil, err
	}
	f, err := o.open(p)
	if err != nil {
		return nil, err
	}
	// A crash mid-write leaves a torn last line: cut it, so that the next
	// record starts on a line of its own and no garbage stays.
	size, err := completeSize(f)
	if err == nil {
		err = f.Truncate(size)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("repair %s: %w", p, err)
	}
	a := &appender{f: f, path: p, size: size}
	o.files[name] = a
	return a, nil
}

// append writes whole lines, all or nothing: a short or failed write is cut
// back to where they started.
func (a *appender) append(line []byte) error {
	n, err := a.f.Write(line)
	if err == nil && n == len(line) {
		a.size += int64(n)
		return nil
	}
	if err == nil {
		err = io.ErrShortWrite
	}
	if terr := a.f.Truncate(a.size); terr != nil {
		return fmt.Errorf("outbox %s: write: %w; cutting the partial line back failed too: %v", a.path, err, terr)
	}
	return fmt.Errorf("outbox %s: write: %w (the messages were not recorded)", a.path, err)
}

// completeSize is the size of f up to its last newline.
func completeSize(f File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := st.Size()
	buf := make([]byte, 64<<10)
	for end > 0 {
		n := min(int64(len(buf)), end)
		if _, err := f.ReadAt(buf[:n], end-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return end - n + int64(i) + 1, nil
		}
		end -= n
	}
	return 0, nil
}

// openFile opens path for appending, created 0600; an older, wider file is
// narrowed.
func openFile(path string) (File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, fileMode)
	if err != nil {
		return nil, err
	}
	if err := narrow(f, fileMode); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// mkdirs creates the folders of an outbox file 0700: the outbox's and the
// run's (MkdirAll leaves an older, wider folder as it is: narrowed here).
func mkdirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return err
		}
		if err := os.Chmod(d, dirMode); err != nil {
			return err
		}
	}
	return nil
}

func narrow(f *os.File, mode os.FileMode) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode().Perm()&^mode != 0 {
		return f.Chmod(mode)
	}
	return nil
}

// fileName is <run>/<activity>.jsonl, from the message tags.
func fileName(tags map[string]string) string {
	run, act := safe(tags[send.TagRun]), safe(tags[send.TagActivity])
	if run == "" {
		run = "_"
	}
	if act == "" {
		act = "messages"
	}
	return filepath.Join(run, act+".jsonl")
}

func safe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, strings.TrimLeft(s, "."))
}

// Path is the file holding the messages of a run's activity.
func Path(dir, run, activity string) string {
	return filepath.Join(dir, fileName(map[string]string{send.TagRun: run, send.TagActivity: activity}))
}

// ReadFile returns the records of one outbox file, skipping a torn line.
func ReadFile(path string) ([]Record, error) {
	var out []Record
	err := readFile(path, func(r Record) { out = append(out, r) })
	return out, err
}

// Read returns every record under dir, by file then line.
func Read(dir string) ([]Record, error) {
	var out []Record
	err := walk(dir, func(r Record) { out = append(out, r) })
	return out, err
}

func walk(dir string, fn func(Record)) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".jsonl") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := readFile(f, fn); err != nil {
			return err
		}
	}
	return nil
}

func readFile(path string, fn func(Record)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var r Record
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue // a torn line
		}
		fn(r)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("outbox %s: %w", path, err)
	}
	return nil
}
