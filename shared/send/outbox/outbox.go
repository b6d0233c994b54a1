// Package outbox is the local sender: every message is appended as one JSON
// line to <dir>/<run>/<activity>.jsonl, where tests and people read it.
//
// An append is one write(2) of a whole line on a file opened with O_APPEND:
// once Send returns, the line is in the kernel and survives the process
// (not a power cut: the outbox is for local runs). A reader skips a torn
// last line. The message id is derived from the idempotency key, and Find
// looks a key up, so a send interrupted between the outbox and the ledger is
// settled exactly once.
package outbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	mu    sync.Mutex
	files map[string]*os.File
	index map[string]string // idempotency key → id; nil until Find needs it
}

var (
	_ send.Sender = (*Outbox)(nil)
	_ send.Finder = (*Outbox)(nil)
)

// New returns an outbox writing under dir (created on first send).
func New(dir string) *Outbox {
	return &Outbox{dir: dir, clock: time.Now, files: map[string]*os.File{}}
}

// Dir is the outbox folder.
func (o *Outbox) Dir() string { return o.dir }

// ID is the message id the outbox gives a message with key.
func ID(key string) string { return "outbox-" + strings.TrimPrefix(key, "sw-") }

// Send implements send.Sender.
func (o *Outbox) Send(ctx context.Context, m *send.Message) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if m.To == "" {
		return "", &send.Permanent{Msg: "no recipient address"}
	}
	if m.IdempotencyKey == "" {
		return "", &send.Permanent{Msg: "no idempotency key", Account: true}
	}
	rec := Record{ID: ID(m.IdempotencyKey), At: o.clock().UTC(), Message: *m}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // readable HTML in the file
	if err := enc.Encode(rec); err != nil {
		return "", &send.Permanent{Msg: err.Error()}
	}
	line := buf.Bytes() // one line, ending with \n
	name := fileName(m.Tags)
	o.mu.Lock()
	defer o.mu.Unlock()
	f, err := o.file(name)
	if err != nil {
		return "", &send.Transient{Msg: err.Error()}
	}
	if _, err := f.Write(line); err != nil {
		return "", &send.Transient{Msg: err.Error()}
	}
	if o.index != nil {
		o.index[m.IdempotencyKey] = rec.ID
	}
	return rec.ID, nil
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
	for k, f := range o.files {
		errs = append(errs, f.Close())
		delete(o.files, k)
	}
	return errors.Join(errs...)
}

func (o *Outbox) file(name string) (*os.File, error) {
	if f, ok := o.files[name]; ok {
		return f, nil
	}
	p := filepath.Join(o.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	// A crash mid-write leaves a torn last line: end it, so that the next
	// record starts on a line of its own.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	o.files[name] = f
	return f, nil
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
