package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/stepwise-run/stepwise/shared/aws/awserr"
	"github.com/stepwise-run/stepwise/shared/state"
)

func sendPK(runID, activity string) string { return "SEND#" + runID + "#" + activity }
func sendSK(k state.SendKey) string        { return k.Channel + "#" + k.Recipient }

func sendRec(e state.LedgerEntry) *rec {
	return &rec{pk: sendPK(e.RunID, e.Activity), sk: sendSK(e.SendKey), data: e}
}

// ClaimSend implements state.Ledger.
func (s *Store) ClaimSend(ctx context.Context, k state.SendKey, token string, at time.Time, lease time.Duration) (state.LedgerEntry, bool, error) {
	e, err := state.NewLedgerEntry(k, token, at, lease)
	if err != nil {
		return e, false, err
	}
	it, err := s.create(ctx, *sendRec(e))
	claimed := err == nil
	if errors.Is(err, state.ErrExists) {
		err = nil
	}
	if err != nil {
		return e, false, err
	}
	e, err = decode[state.LedgerEntry](it)
	return e, claimed, err
}

// modifySend stores fn's change of the stored entry held names.
func (s *Store) modifySend(ctx context.Context, held state.LedgerEntry, fn func(cur state.LedgerEntry) (state.LedgerEntry, error)) (state.LedgerEntry, error) {
	it, err := s.modify(ctx, sendPK(held.RunID, held.Activity), sendSK(held.SendKey), func(cur item) (change, error) {
		if cur == nil {
			return change{}, fmt.Errorf("%w: send %v", state.ErrNotFound, held.SendKey)
		}
		e, err := decode[state.LedgerEntry](cur)
		if err != nil {
			return change{}, err
		}
		e, err = fn(e)
		return change{head: sendRec(e)}, err
	})
	if err != nil {
		return state.LedgerEntry{}, err
	}
	return decode[state.LedgerEntry](it)
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
func (s *Store) GetSend(ctx context.Context, k state.SendKey) (state.LedgerEntry, error) {
	return getRec[state.LedgerEntry](ctx, s, sendPK(k.RunID, k.Activity), sendSK(k))
}

// ListSends implements state.Ledger.
func (s *Store) ListSends(ctx context.Context, runID, activity string, p state.Page) ([]state.LedgerEntry, string, error) {
	items, next, err := s.list(ctx, "", "pk", sendPK(runID, activity), "sk", "", p, false)
	if err != nil {
		return nil, "", err
	}
	list, err := decodeAll[state.LedgerEntry](items)
	return list, next, err
}

const suppressSK = "SUPPRESS"

func suppressPK(channel, address string) string { return "SUPPRESS#" + channel + "#" + address }

// Suppress implements state.Suppressions.
func (s *Store) Suppress(ctx context.Context, sup state.Suppression) (state.Suppression, error) {
	sup, err := state.NewSuppression(sup)
	if err != nil {
		return sup, err
	}
	it, err := rec{pk: suppressPK(sup.Channel, sup.Address), sk: suppressSK,
		gsi1pk: "SUPPRESS#" + sup.Channel, gsi1sk: sup.Address, data: sup}.item(1)
	if err != nil {
		return sup, err
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: it}); err != nil {
		return sup, fmt.Errorf("dynamostate: suppress: %w", awserr.Mark(err))
	}
	return decode[state.Suppression](it)
}

// Unsuppress implements state.Suppressions.
func (s *Store) Unsuppress(ctx context.Context, channel, address string) error {
	address = state.NormalizeAddress(channel, address)
	// Read, then delete unconditionally: a conditional delete retried by the SDK after
	// its first attempt landed would report the suppression missing.
	pk := suppressPK(channel, address)
	it, err := s.get(ctx, pk, suppressSK)
	if err == nil && it == nil {
		err = fmt.Errorf("%w: suppression %s %s", state.ErrNotFound, channel, address)
	}
	if err != nil {
		return err
	}
	if _, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: keyOf(pk, suppressSK)}); err != nil {
		return fmt.Errorf("dynamostate: unsuppress: %w", awserr.Mark(err))
	}
	return nil
}

// CheckSuppressed implements state.Suppressions. It reads in batches of 100.
func (s *Store) CheckSuppressed(ctx context.Context, channel string, addresses ...string) (map[string]state.Suppression, error) {
	found := map[string]state.Suppression{}
	seen := map[string]bool{}
	var keys []item
	for _, a := range addresses {
		a = state.NormalizeAddress(channel, a)
		if a == "" || seen[a] {
			continue
		}
		seen[a] = true
		keys = append(keys, keyOf(suppressPK(channel, a), suppressSK))
	}
	for len(keys) > 0 {
		n := min(len(keys), 100)
		batch := keys[:n]
		keys = keys[n:]
		for attempt := 0; len(batch) > 0; attempt++ {
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: batch, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, fmt.Errorf("dynamostate: check suppressed: %w", awserr.Mark(err))
			}
			for _, it := range out.Responses[s.table] {
				sup, err := decode[state.Suppression](it)
				if err != nil {
					return nil, err
				}
				found[sup.Address] = sup
			}
			batch = out.UnprocessedKeys[s.table].Keys
			if len(batch) > 0 {
				if err := backoff(ctx, attempt+3); err != nil {
					return nil, err
				}
			}
		}
	}
	return found, nil
}

// ListSuppressions implements state.Suppressions.
func (s *Store) ListSuppressions(ctx context.Context, channel string, p state.Page) ([]state.Suppression, string, error) {
	items, next, err := s.list(ctx, GSI1, "gsi1pk", "SUPPRESS#"+channel, "gsi1sk", "", p, false)
	if err != nil {
		return nil, "", err
	}
	list, err := decodeAll[state.Suppression](items)
	return list, next, err
}

func capPK(channel, recipient string) string { return "CAP#" + channel + "#" + recipient }

// modifyCaps stores fn's change of a recipient's cap log. The item expires by TTL once
// its newest send is older than the retention.
// fn reports whether it changed the log; nothing is written when it did not.
func (s *Store) modifyCaps(ctx context.Context, recipient, channel string, fn func(state.CapLog) (state.CapLog, bool)) error {
	if err := state.CheckCapRequest(state.CapRequest{Recipient: recipient, Channel: channel}); err != nil {
		return err
	}
	pk := capPK(channel, recipient)
	_, err := s.modify(ctx, pk, "CAP", func(cur item) (change, error) {
		var l state.CapLog
		if cur != nil {
			var err error
			if l, err = decode[state.CapLog](cur); err != nil {
				return change{}, err
			}
		}
		l, changed := fn(l)
		if !changed {
			return change{}, nil
		}
		return change{head: capRec(recipient, channel, l)}, nil
	})
	return err
}

// capRec is a recipient's cap log as stored: it expires by TTL once its newest send
// is older than the retention.
func capRec(recipient, channel string, l state.CapLog) *rec {
	var expires time.Time
	if len(l) > 0 {
		expires = l[len(l)-1].At.Add(state.CapRetention)
	}
	return &rec{pk: capPK(channel, recipient), sk: "CAP", expiresAt: expires, data: l}
}

// RecordSend implements state.Caps.
func (s *Store) RecordSend(ctx context.Context, recipient, channel string, at time.Time, ref string) error {
	return s.modifyCaps(ctx, recipient, channel, func(l state.CapLog) (state.CapLog, bool) {
		return l.Record(at, ref), true
	})
}

// CountSends implements state.Caps.
func (s *Store) CountSends(ctx context.Context, recipient, channel string, since time.Time) (int, error) {
	l, err := getRec[state.CapLog](ctx, s, capPK(channel, recipient), "CAP")
	if errors.Is(err, state.ErrNotFound) {
		return 0, nil
	}
	return l.Count(since), err
}

// ReserveCap implements state.Caps.
func (s *Store) ReserveCap(ctx context.Context, r state.CapRequest) (bool, error) {
	if err := state.CheckCapRequest(r); err != nil {
		return false, err
	}
	var ok bool
	err := s.modifyCaps(ctx, r.Recipient, r.Channel, func(l state.CapLog) (state.CapLog, bool) {
		l, ok = l.Reserve(r)
		return l, ok
	})
	return ok, err
}

// ReleaseCap implements state.Caps.
func (s *Store) ReleaseCap(ctx context.Context, recipient, channel, ref string) error {
	if ref == "" {
		return fmt.Errorf("%w: cap ref is empty", state.ErrInvalid)
	}
	return s.modifyCaps(ctx, recipient, channel, func(l state.CapLog) (state.CapLog, bool) {
		before := len(l)
		l = l.Release(ref)
		return l, len(l) != before
	})
}
