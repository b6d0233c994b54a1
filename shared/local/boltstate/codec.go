package boltstate

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// The send ledger and the cap logs, written for every message of a live run,
// are stored in a compact binary form (about a quarter of their JSON, and
// no reflection): a version byte, then the fields in a fixed order, strings
// and times length- or varint-prefixed. A ledger entry's run, activity,
// channel and recipient are its key's, not repeated in the value. Values
// written as JSON (by earlier versions) are read as JSON: a JSON object or
// array starts with '{' or '[', never with the version byte.
const compactV1 byte = 1

// encodeValue encodes v as stored: compact for ledger entries and cap logs,
// JSON for the rest.
func encodeValue[T any](v T) ([]byte, error) {
	switch x := any(v).(type) {
	case state.LedgerEntry:
		return appendEntry(make([]byte, 0, 128), x), nil
	case state.CapLog:
		return appendCaps(make([]byte, 0, 8+len(x)*48), x), nil
	}
	return json.Marshal(v)
}

// decodeValue decodes the value data stored at k into v (a pointer).
func decodeValue(k, data []byte, v any) error {
	if len(data) > 0 && data[0] == compactV1 {
		switch x := v.(type) {
		case *state.LedgerEntry:
			return decodeEntry(k, data, x)
		case *state.CapLog:
			return decodeCaps(data, x)
		}
	}
	return json.Unmarshal(data, v)
}

func appendEntry(b []byte, e state.LedgerEntry) []byte {
	b = append(b, compactV1)
	b = appendString(b, string(e.Status))
	b = appendString(b, e.Token)
	b = binary.AppendUvarint(b, uint64(e.Attempts))
	b = appendTime(b, e.ClaimedAt)
	b = appendTime(b, e.LeaseUntil)
	b = appendTime(b, e.UpdatedAt)
	b = appendString(b, e.MessageID)
	b = appendString(b, e.Variant)
	return appendString(b, e.Reason)
}

func decodeEntry(k, data []byte, e *state.LedgerEntry) error {
	parts := bytes.SplitN(k, []byte{0}, 3)
	if len(parts) != 3 {
		return fmt.Errorf("boltstate: send key %q: want run, activity and channel#recipient", k)
	}
	ch, rcpt, ok := bytes.Cut(parts[2], []byte("#"))
	if !ok {
		return fmt.Errorf("boltstate: send key %q: want channel#recipient", k)
	}
	d := decoder{b: data[1:]}
	*e = state.LedgerEntry{SendKey: state.SendKey{RunID: string(parts[0]), Activity: string(parts[1]), Channel: string(ch), Recipient: string(rcpt)}}
	e.Status = state.SendStatus(d.string())
	e.Token = d.string()
	e.Attempts = int(d.uvarint())
	e.ClaimedAt, e.LeaseUntil, e.UpdatedAt = d.time(), d.time(), d.time()
	e.MessageID, e.Variant, e.Reason = d.string(), d.string(), d.string()
	if err := d.done(); err != nil {
		return fmt.Errorf("boltstate: send %q: %w", k, err)
	}
	return nil
}

func appendCaps(b []byte, l state.CapLog) []byte {
	b = append(b, compactV1)
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, e := range l {
		b = appendTime(b, e.At)
		b = appendString(b, e.Ref)
	}
	return b
}

func decodeCaps(data []byte, l *state.CapLog) error {
	d := decoder{b: data[1:]}
	n := d.uvarint()
	if n > uint64(len(data)) { // each entry takes at least a byte
		return errors.New("boltstate: cap log: bad length")
	}
	out := make(state.CapLog, n)
	for i := range out {
		out[i] = state.CapEntry{At: d.time(), Ref: d.string()}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("boltstate: cap log: %w", err)
	}
	if n == 0 {
		out = nil // as JSON's null
	}
	*l = out
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// appendTime stores t's instant (seconds and nanoseconds); it reads back in
// UTC, as JSON's RFC 3339 "Z" does.
func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decoder reads what the append functions wrote; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) time() time.Time {
	sec, nsec := d.varint(), d.uvarint()
	if d.err != nil || nsec >= 1e9 {
		d.fail()
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errors.New("truncated or damaged value")
	}
	d.b = nil
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) > 0 {
		return errors.New("trailing bytes")
	}
	return d.err
}
