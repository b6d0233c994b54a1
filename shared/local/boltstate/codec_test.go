package boltstate

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stepwise-run/stepwise/shared/state"
)

func testEntry() state.LedgerEntry {
	at := time.Date(2026, 12, 7, 12, 0, 0, 123456789, time.UTC)
	return state.LedgerEntry{SendKey: state.SendKey{RunID: "r1", Activity: "news", Channel: "email", Recipient: "c#1\x00x"},
		Status: state.SendSent, Token: "sw-0123", Attempts: 3, ClaimedAt: at, LeaseUntil: at.Add(time.Minute),
		MessageID: "outbox-0123", Variant: "B", UpdatedAt: at.Add(time.Second)}
}

// Ledger entries and cap logs are stored compact, and read back as their
// JSON would be (times in UTC, zero times zero, an empty log nil).
func TestCompactValuesRoundTrip(t *testing.T) {
	e := testEntry()
	k := sendKey(e.SendKey)
	zero := state.LedgerEntry{SendKey: e.SendKey, Status: state.SendPending, Attempts: 1}
	for _, want := range []state.LedgerEntry{e, zero} {
		data, err := encodeValue(want)
		if err != nil || data[0] != compactV1 {
			t.Fatalf("encoded %q, %v", data, err)
		}
		js, _ := json.Marshal(want)
		if len(data)*2 > len(js) {
			t.Errorf("compact %d bytes, JSON %d: not compact", len(data), len(js))
		}
		var got, viaJSON state.LedgerEntry
		if err := decodeValue(k, data, &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(js, &viaJSON)
		if !reflect.DeepEqual(got, viaJSON) || !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nJSON %+v\nwant %+v", got, viaJSON, want)
		}
	}
	for _, l := range []state.CapLog{nil, {{At: e.ClaimedAt, Ref: "sw-1"}, {At: e.UpdatedAt}}} {
		data, _ := encodeValue(l)
		var got, viaJSON state.CapLog
		if err := decodeValue(nil, data, &got); err != nil {
			t.Fatal(err)
		}
		js, _ := json.Marshal(l)
		json.Unmarshal(js, &viaJSON)
		if !reflect.DeepEqual(got, viaJSON) {
			t.Errorf("cap log round trip: %+v, JSON %+v", got, viaJSON)
		}
	}
}

// A damaged value is an error naming the entry, not a zero entry.
func TestCompactValueDamaged(t *testing.T) {
	e := testEntry()
	data, _ := encodeValue(e)
	for _, bad := range [][]byte{data[:len(data)-3], append(data, 7)} {
		var got state.LedgerEntry
		if err := decodeValue(sendKey(e.SendKey), bad, &got); err == nil || !strings.Contains(err.Error(), "r1") {
			t.Errorf("damaged value %q: %v", bad, err)
		}
	}
	var l state.CapLog
	if err := decodeValue(nil, []byte{compactV1, 200, 1}, &l); err == nil {
		t.Error("a damaged cap log is read")
	}
}

// A home written by an earlier version holds JSON entries and logs: they are
// read, completed and listed as before, and rewritten compact.
func TestJSONValuesOfEarlierVersions(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	held, _ := state.NewLedgerEntry(state.SendKey{RunID: "r1", Activity: "news", Channel: "email", Recipient: "c1"}, "", at, time.Minute)
	capLog := state.CapLog{{At: at.Add(-time.Hour), Ref: "sw-old"}}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		ej, _ := json.Marshal(held)
		cj, _ := json.Marshal(capLog)
		if err := tx.Bucket(bSends).Put(sendKey(held.SendKey), ej); err != nil {
			return err
		}
		return tx.Bucket(bCaps).Put(key("email", "customers:c1"), cj)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetSend(ctx, held.SendKey); err != nil || !reflect.DeepEqual(got, held) {
		t.Fatalf("get: %+v %v", got, err)
	}
	if n, err := s.CountSends(ctx, "customers:c1", "email", at.Add(-2*time.Hour)); n != 1 || err != nil {
		t.Fatalf("count: %d %v", n, err)
	}
	res, err := s.CompleteSends(ctx, []state.SendCompletion{{Held: held, MessageID: "m1"}}, at.Add(time.Second))
	if err != nil || res[0].Err != nil || res[0].Entry.Status != state.SendSent {
		t.Fatalf("complete: %+v %v", res, err)
	}
	granted, err := s.ReserveCaps(ctx, []state.CapRequest{{Recipient: "customers:c1", Channel: "email", Max: 5, Since: at.Add(-2 * time.Hour), At: at, Ref: "sw-new"}})
	if err != nil || !granted[0] {
		t.Fatalf("reserve: %v %v", granted, err)
	}
	list, _, err := s.ListSends(ctx, "r1", "news", state.Page{})
	if err != nil || len(list) != 1 || list[0].MessageID != "m1" || list[0].Recipient != "c1" {
		t.Fatalf("list: %+v %v", list, err)
	}
	s.view(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bSends).Get(sendKey(held.SendKey)); v[0] != compactV1 {
			t.Errorf("the completed entry is stored %q", v)
		}
		if v := tx.Bucket(bCaps).Get(key("email", "customers:c1")); v[0] != compactV1 {
			t.Errorf("the cap log is stored %q", v)
		}
		return nil
	})
	if n, _ := s.CountSends(ctx, "customers:c1", "email", at.Add(-2*time.Hour)); n != 2 {
		t.Errorf("count after the reservation: %d", n)
	}
}
