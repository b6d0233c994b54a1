package boltstate

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stepwise-run/stepwise/shared/state"
)

func sendKey(k state.SendKey) []byte {
	return key(k.RunID, k.Activity, k.Channel+"#"+k.Recipient)
}

// ClaimSend implements state.Ledger.
func (s *Store) ClaimSend(ctx context.Context, k state.SendKey, token string, at time.Time, lease time.Duration) (e state.LedgerEntry, claimed bool, err error) {
	next, err := state.NewLedgerEntry(k, token, at, lease)
	if err != nil {
		return e, false, err
	}
	e, err = casUpdate(ctx, s, bSends, sendKey(k), func(cur state.LedgerEntry, found bool) (state.LedgerEntry, bool, error) {
		claimed = !found
		if found {
			return cur, false, nil
		}
		return next, true, nil
	})
	return e, claimed, err
}

// ClaimSends implements state.Ledger: the group's claims are one commit.
func (s *Store) ClaimSends(ctx context.Context, cs []state.SendClaim, at time.Time, lease time.Duration) ([]state.SendResult, error) {
	if err := state.CheckSendClaims(cs, lease); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(cs))
	for i, c := range cs {
		keys[i] = sendKey(c.Key)
	}
	claimed := make([]bool, len(cs))
	vals, _, err := casUpdates(ctx, s, bSends, keys, func(i int, cur state.LedgerEntry, found bool) (state.LedgerEntry, bool, error) {
		if claimed[i] = !found; found {
			return cur, false, nil
		}
		next, err := state.NewLedgerEntry(cs[i].Key, cs[i].Token, at, lease)
		return next, err == nil, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]state.SendResult, len(cs))
	for i := range out {
		out[i] = state.SendResult{Entry: vals[i], Claimed: claimed[i]}
	}
	return out, nil
}

// CompleteSends implements state.Ledger: the group's completions are one commit.
func (s *Store) CompleteSends(ctx context.Context, cs []state.SendCompletion, at time.Time) ([]state.SendResult, error) {
	keys := make([][]byte, len(cs))
	for i, c := range cs {
		keys[i] = sendKey(c.Held.SendKey)
	}
	vals, errs, err := casUpdates(ctx, s, bSends, keys, func(i int, cur state.LedgerEntry, found bool) (state.LedgerEntry, bool, error) {
		if !found {
			return cur, false, notFound("send", cs[i].Held.SendKey)
		}
		next, err := state.CompleteEntry(cur, cs[i].Held, cs[i].MessageID, cs[i].Variant, at)
		return next, err == nil, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]state.SendResult, len(cs))
	for i := range out {
		out[i] = state.SendResult{Entry: vals[i], Err: errs[i]}
	}
	return out, nil
}

// modifySend stores fn's change of the stored entry held names.
func (s *Store) modifySend(ctx context.Context, held state.LedgerEntry, fn func(cur state.LedgerEntry) (state.LedgerEntry, error)) (state.LedgerEntry, error) {
	return casUpdate(ctx, s, bSends, sendKey(held.SendKey), func(cur state.LedgerEntry, found bool) (state.LedgerEntry, bool, error) {
		if !found {
			return cur, false, notFound("send", held.SendKey)
		}
		next, err := fn(cur)
		return next, err == nil, err
	})
}

// ReclaimSend implements state.Ledger.
func (s *Store) ReclaimSend(ctx context.Context, held state.LedgerEntry, at time.Time, lease time.Duration) (state.LedgerEntry, error) {
	return s.modifySend(ctx, held, func(cur state.LedgerEntry) (state.LedgerEntry, error) {
		return state.ReclaimEntry(cur, held, at, lease)
	})
}

// CompleteSend implements state.Ledger.
func (s *Store) CompleteSend(ctx context.Context, held state.LedgerEntry, messageID, variant string, at time.Time) (state.LedgerEntry, error) {
	return s.modifySend(ctx, held, func(cur state.LedgerEntry) (state.LedgerEntry, error) {
		return state.CompleteEntry(cur, held, messageID, variant, at)
	})
}

// FailSend implements state.Ledger.
func (s *Store) FailSend(ctx context.Context, held state.LedgerEntry, reason string, at time.Time) (state.LedgerEntry, error) {
	return s.modifySend(ctx, held, func(cur state.LedgerEntry) (state.LedgerEntry, error) {
		return state.FailEntry(cur, held, reason, at)
	})
}

// GetSend implements state.Ledger.
func (s *Store) GetSend(ctx context.Context, k state.SendKey) (e state.LedgerEntry, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		ok, err := get(tx.Bucket(bSends), sendKey(k), &e)
		if err == nil && !ok {
			err = notFound("send", k)
		}
		return err
	})
	return e, err
}

// ListSends implements state.Ledger.
func (s *Store) ListSends(ctx context.Context, runID, activity string, p state.Page) (list []state.LedgerEntry, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, next, err = scan[state.LedgerEntry](tx.Bucket(bSends), prefix(runID, activity), p, false)
		return err
	})
	return list, next, err
}

// Suppress implements state.Suppressions.
func (s *Store) Suppress(ctx context.Context, sup state.Suppression) (state.Suppression, error) {
	sup, err := state.NewSuppression(sup)
	if err != nil {
		return sup, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		sup, err = put(tx.Bucket(bSuppressions), key(sup.Channel, sup.Address), sup)
		return err
	})
	return sup, err
}

// Unsuppress implements state.Suppressions.
func (s *Store) Unsuppress(ctx context.Context, channel, address string) error {
	return s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bSuppressions)
		k := key(channel, state.NormalizeAddress(channel, address))
		if b.Get(k) == nil {
			return notFound("suppression", channel, address)
		}
		return b.Delete(k)
	})
}

// CheckSuppressed implements state.Suppressions.
func (s *Store) CheckSuppressed(ctx context.Context, channel string, addresses ...string) (map[string]state.Suppression, error) {
	found := map[string]state.Suppression{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bSuppressions)
		// No suppression of the channel (often: none at all): nothing to look up.
		p := prefix(channel)
		if k, _ := b.Cursor().Seek(p); !bytes.HasPrefix(k, p) {
			return nil
		}
		for _, a := range addresses {
			a = state.NormalizeAddress(channel, a)
			var sup state.Suppression
			ok, err := get(b, key(channel, a), &sup)
			if err != nil {
				return err
			}
			if ok {
				found[a] = sup
			}
		}
		return nil
	})
	return found, err
}

// ListSuppressions implements state.Suppressions.
func (s *Store) ListSuppressions(ctx context.Context, channel string, p state.Page) (list []state.Suppression, next string, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		list, next, err = scan[state.Suppression](tx.Bucket(bSuppressions), prefix(channel), p, false)
		return err
	})
	return list, next, err
}

// modifyCaps stores fn's change of a recipient's cap log.
func (s *Store) modifyCaps(ctx context.Context, recipient, channel string, fn func(state.CapLog) state.CapLog) error {
	if err := state.CheckCapRequest(state.CapRequest{Recipient: recipient, Channel: channel}); err != nil {
		return err
	}
	_, err := casUpdate(ctx, s, bCaps, key(channel, recipient), func(l state.CapLog, _ bool) (state.CapLog, bool, error) {
		return fn(l), true, nil
	})
	return err
}

// RecordSend implements state.Caps.
func (s *Store) RecordSend(ctx context.Context, recipient, channel string, at time.Time, ref string) error {
	return s.modifyCaps(ctx, recipient, channel, func(l state.CapLog) state.CapLog {
		return l.Record(at, ref)
	})
}

// CountSends implements state.Caps.
func (s *Store) CountSends(ctx context.Context, recipient, channel string, since time.Time) (n int, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var l state.CapLog
		_, err := get(tx.Bucket(bCaps), key(channel, recipient), &l)
		n = l.Count(since)
		return err
	})
	return n, err
}

// ReserveCap implements state.Caps.
func (s *Store) ReserveCap(ctx context.Context, r state.CapRequest) (ok bool, err error) {
	if err := state.CheckCapRequest(r); err != nil {
		return false, err
	}
	err = s.modifyCaps(ctx, r.Recipient, r.Channel, func(l state.CapLog) state.CapLog {
		l, ok = l.Reserve(r)
		return l
	})
	return ok, err
}

// ReserveCaps implements state.Caps: the group's reservations are one commit.
func (s *Store) ReserveCaps(ctx context.Context, rs []state.CapRequest) ([]bool, error) {
	if err := state.CheckCapRequests(rs); err != nil {
		return nil, err
	}
	keys := make([][]byte, len(rs))
	for i, r := range rs {
		keys[i] = key(r.Channel, r.Recipient)
	}
	granted := make([]bool, len(rs))
	_, _, err := casUpdates(ctx, s, bCaps, keys, func(i int, l state.CapLog, _ bool) (state.CapLog, bool, error) {
		l, granted[i] = l.Reserve(rs[i])
		return l, true, nil
	})
	if err != nil {
		return nil, err
	}
	return granted, nil
}

// ReleaseCap implements state.Caps.
func (s *Store) ReleaseCap(ctx context.Context, recipient, channel, ref string) error {
	if ref == "" {
		return fmt.Errorf("%w: cap ref is empty", state.ErrInvalid)
	}
	return s.modifyCaps(ctx, recipient, channel, func(l state.CapLog) state.CapLog {
		return l.Release(ref)
	})
}

// ReserveCapsAndClaimSends reserves rs[i] and, when granted, claims cs[i], for
// every i, in one group commit (ReserveCaps then ClaimSends would be two):
// granted[i] answers rs[i], res[i] answers cs[i] (zero when not granted).
// A reservation is idempotent by its ref, so making it durable with the claim
// changes nothing of what a crash leaves.
func (s *Store) ReserveCapsAndClaimSends(ctx context.Context, rs []state.CapRequest, cs []state.SendClaim, at time.Time, lease time.Duration) ([]bool, []state.SendResult, error) {
	if len(rs) != len(cs) {
		return nil, nil, fmt.Errorf("%w: %d cap requests for %d claims", state.ErrInvalid, len(rs), len(cs))
	}
	if err := state.CheckCapRequests(rs); err != nil {
		return nil, nil, err
	}
	if err := state.CheckSendClaims(cs, lease); err != nil {
		return nil, nil, err
	}
	n := len(rs)
	capKeys, sendKeys := make([][]byte, n), make([][]byte, n)
	seen := map[string]bool{}
	for i := range n {
		capKeys[i], sendKeys[i] = key(rs[i].Channel, rs[i].Recipient), sendKey(cs[i].Key)
		for _, k := range []string{"c" + string(capKeys[i]), "s" + string(sendKeys[i])} {
			if seen[k] {
				return s.reserveThenClaim(ctx, rs, cs, at, lease) // a key twice: one after the other
			}
			seen[k] = true
		}
	}
	granted, res := make([]bool, n), make([]state.SendResult, n)
	for {
		capRaw, sendRaw := make([][]byte, n), make([][]byte, n)
		err := s.view(ctx, func(tx *bolt.Tx) error {
			cb, sb := tx.Bucket(bCaps), tx.Bucket(bSends)
			for i := range n {
				if v := cb.Get(capKeys[i]); v != nil {
					capRaw[i] = bytes.Clone(v)
				}
				if v := sb.Get(sendKeys[i]); v != nil {
					sendRaw[i] = bytes.Clone(v)
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		capData, sendData := make([][]byte, n), make([][]byte, n)
		for i := range n {
			var l state.CapLog
			if capRaw[i] != nil {
				if err := decodeValue(capKeys[i], capRaw[i], &l); err != nil {
					return nil, nil, err
				}
			}
			if l, granted[i] = l.Reserve(rs[i]); !granted[i] {
				res[i] = state.SendResult{}
				continue
			}
			if capData[i], err = encodeValue(l); err != nil {
				return nil, nil, err
			}
			if sendRaw[i] != nil {
				res[i] = state.SendResult{}
				if err := decodeValue(sendKeys[i], sendRaw[i], &res[i].Entry); err != nil {
					return nil, nil, err
				}
				continue
			}
			e, err := state.NewLedgerEntry(cs[i].Key, cs[i].Token, at, lease)
			if err != nil {
				return nil, nil, err
			}
			res[i] = state.SendResult{Entry: e, Claimed: true}
			if sendData[i], err = encodeValue(e); err != nil {
				return nil, nil, err
			}
		}
		changed := false
		err = s.batch(ctx, func(tx *bolt.Tx) error {
			cb, sb := tx.Bucket(bCaps), tx.Bucket(bSends)
			changed = false // fn may run more than once
			for i := range n {
				if capData[i] != nil && !bytes.Equal(cb.Get(capKeys[i]), capRaw[i]) ||
					sendData[i] != nil && !bytes.Equal(sb.Get(sendKeys[i]), sendRaw[i]) {
					changed = true // a racing writer: read again, write nothing
					return nil
				}
			}
			for i := range n {
				if capData[i] != nil {
					if err := cb.Put(capKeys[i], capData[i]); err != nil {
						return err
					}
				}
				if sendData[i] != nil {
					if err := sb.Put(sendKeys[i], sendData[i]); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if !changed {
			return granted, res, nil
		}
	}
}

// reserveThenClaim is ReserveCapsAndClaimSends in two commits.
func (s *Store) reserveThenClaim(ctx context.Context, rs []state.CapRequest, cs []state.SendClaim, at time.Time, lease time.Duration) ([]bool, []state.SendResult, error) {
	granted, err := s.ReserveCaps(ctx, rs)
	if err != nil {
		return nil, nil, err
	}
	var claims []state.SendClaim
	for i, ok := range granted {
		if ok {
			claims = append(claims, cs[i])
		}
	}
	got, err := s.ClaimSends(ctx, claims, at, lease)
	if err != nil {
		return nil, nil, err
	}
	res := make([]state.SendResult, len(cs))
	for i, ok := range granted {
		if ok {
			res[i], got = got[0], got[1:]
		}
	}
	return granted, res, nil
}
