package channel_test

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// memStore is an in-memory send ledger, suppression list, cap log, key and
// table store with the state package's semantics, for fast tests.
type memStore struct {
	mu     sync.Mutex
	sends  map[state.SendKey]state.LedgerEntry
	sup    map[string]state.Suppression
	caps   map[string]state.CapLog
	keys   map[string]state.Key
	logs   []string
	claims int
	failOn sync.Map // run id → func(op string) error
}

func newMemStore() *memStore {
	return &memStore{sends: map[state.SendKey]state.LedgerEntry{}, sup: map[string]state.Suppression{},
		caps: map[string]state.CapLog{}, keys: map[string]state.Key{}}
}

func (m *memStore) fail(run, op string) error {
	if f, ok := m.failOn.Load(run); ok {
		return f.(func(string) error)(op)
	}
	return nil
}

func (m *memStore) ClaimSend(ctx context.Context, k state.SendKey, token string, at time.Time, lease time.Duration) (state.LedgerEntry, bool, error) {
	if err := m.fail(k.RunID, "claim"); err != nil {
		return state.LedgerEntry{}, false, err
	}
	return m.claim(k, token, at, lease)
}

func (m *memStore) claim(k state.SendKey, token string, at time.Time, lease time.Duration) (state.LedgerEntry, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.sends[k]; ok {
		return e, false, nil
	}
	e, err := state.NewLedgerEntry(k, token, at, lease)
	if err != nil {
		return e, false, err
	}
	m.sends[k] = e
	m.claims++
	return e, true, nil
}

// ClaimSends claims each of cs; the hook "claims-stored" runs once they are
// stored (a crash there leaves the group pending, nothing sent).
func (m *memStore) ClaimSends(ctx context.Context, cs []state.SendClaim, at time.Time, lease time.Duration) ([]state.SendResult, error) {
	if err := state.CheckSendClaims(cs, lease); err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, nil
	}
	run := cs[0].Key.RunID
	if err := m.fail(run, "claims"); err != nil {
		return nil, err
	}
	out := make([]state.SendResult, len(cs))
	for i, c := range cs {
		e, claimed, err := m.claim(c.Key, c.Token, at, lease)
		if err != nil {
			return nil, err
		}
		out[i] = state.SendResult{Entry: e, Claimed: claimed}
	}
	if err := m.fail(run, "claims-stored"); err != nil {
		return nil, err
	}
	return out, nil
}

// CompleteSends completes each of cs one by one, as a store without
// transactions would: the hook "completes" runs before the first, and
// "completes-half" after the first half (a crash there leaves the group half
// recorded).
func (m *memStore) CompleteSends(ctx context.Context, cs []state.SendCompletion, at time.Time) ([]state.SendResult, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	run := cs[0].Held.RunID
	for _, op := range []string{"complete", "completes"} {
		if err := m.fail(run, op); err != nil {
			return nil, err
		}
	}
	out := make([]state.SendResult, len(cs))
	for i, c := range cs {
		if i == len(cs)/2 && i > 0 {
			if err := m.fail(run, "completes-half"); err != nil {
				return nil, err
			}
		}
		out[i].Entry, out[i].Err = m.modify(c.Held, func(cur state.LedgerEntry) (state.LedgerEntry, error) {
			return state.CompleteEntry(cur, c.Held, c.MessageID, c.Variant, at)
		})
	}
	return out, nil
}

func (m *memStore) modify(held state.LedgerEntry, fn func(cur state.LedgerEntry) (state.LedgerEntry, error)) (state.LedgerEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.sends[held.SendKey]
	if !ok {
		return cur, state.ErrNotFound
	}
	e, err := fn(cur)
	if err != nil {
		return e, err
	}
	m.sends[held.SendKey] = e
	return e, nil
}

func (m *memStore) ReclaimSend(ctx context.Context, held state.LedgerEntry, at time.Time, lease time.Duration) (state.LedgerEntry, error) {
	return m.modify(held, func(cur state.LedgerEntry) (state.LedgerEntry, error) {
		return state.ReclaimEntry(cur, held, at, lease)
	})
}

func (m *memStore) CompleteSend(ctx context.Context, held state.LedgerEntry, id, variant string, at time.Time) (state.LedgerEntry, error) {
	if err := m.fail(held.RunID, "complete"); err != nil {
		return held, err
	}
	return m.modify(held, func(cur state.LedgerEntry) (state.LedgerEntry, error) {
		return state.CompleteEntry(cur, held, id, variant, at)
	})
}

func (m *memStore) FailSend(ctx context.Context, held state.LedgerEntry, reason string, at time.Time) (state.LedgerEntry, error) {
	return m.modify(held, func(cur state.LedgerEntry) (state.LedgerEntry, error) { return state.FailEntry(cur, held, reason, at) })
}

func (m *memStore) GetSend(ctx context.Context, k state.SendKey) (state.LedgerEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.sends[k]
	if !ok {
		return e, state.ErrNotFound
	}
	return e, nil
}

func (m *memStore) entries(run string) []state.LedgerEntry {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []state.LedgerEntry
	for k, e := range m.sends {
		if k.RunID == run {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Recipient < out[j].Recipient })
	return out
}

func (m *memStore) Suppress(ctx context.Context, s state.Suppression) (state.Suppression, error) {
	s, err := state.NewSuppression(s)
	if err != nil {
		return s, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sup[s.Channel+"\x00"+s.Address] = s
	return s, nil
}

func (m *memStore) CheckSuppressed(ctx context.Context, channel string, addresses ...string) (map[string]state.Suppression, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]state.Suppression{}
	for _, a := range addresses {
		a = state.NormalizeAddress(channel, a)
		if s, ok := m.sup[channel+"\x00"+a]; ok {
			out[a] = s
		}
	}
	return out, nil
}

func (m *memStore) capLog(recipient, channel string, fn func(state.CapLog) state.CapLog) {
	k := channel + "\x00" + recipient
	m.caps[k] = fn(m.caps[k])
}

func (m *memStore) RecordSend(ctx context.Context, recipient, channel string, at time.Time, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capLog(recipient, channel, func(l state.CapLog) state.CapLog { return l.Record(at, ref) })
	return nil
}

func (m *memStore) CountSends(ctx context.Context, recipient, channel string, since time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.caps[channel+"\x00"+recipient].Count(since), nil
}

func (m *memStore) ReserveCap(ctx context.Context, r state.CapRequest) (bool, error) {
	if err := state.CheckCapRequest(r); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var ok bool
	m.capLog(r.Recipient, r.Channel, func(l state.CapLog) state.CapLog {
		l, ok = l.Reserve(r)
		return l
	})
	return ok, nil
}

func (m *memStore) ReserveCaps(ctx context.Context, rs []state.CapRequest) ([]bool, error) {
	if err := state.CheckCapRequests(rs); err != nil {
		return nil, err
	}
	out := make([]bool, len(rs))
	for i, r := range rs {
		out[i], _ = m.ReserveCap(ctx, r)
	}
	return out, nil
}

func (m *memStore) ReleaseCap(ctx context.Context, recipient, channel, ref string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capLog(recipient, channel, func(l state.CapLog) state.CapLog { return l.Release(ref) })
	return nil
}

func (m *memStore) PutKey(ctx context.Context, k state.Key) (state.Key, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.keys[k.Key]; ok && cur.Live(k.CreatedAt) {
		return cur, false, nil
	}
	m.keys[k.Key] = k
	return k, true, nil
}

func (m *memStore) GetKey(ctx context.Context, key string, now time.Time) (state.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[key]
	if !ok || !k.Live(now) {
		return k, state.ErrNotFound
	}
	return k, nil
}

func (m *memStore) AppendTaskLog(ctx context.Context, runID, activity string, at time.Time, lines ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range lines {
		m.logs = append(m.logs, activity+": "+l)
	}
	return nil
}

var errInjected = errors.New("injected store failure")
