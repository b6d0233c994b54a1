package dynamostate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stepwise-run/stepwise/shared/state"
)

// ref names an item.
type ref struct{ pk, sk string }

// modifyMany is modify for many items, one after another: each read, decided
// and written conditionally on its own. decide may fail for its item alone
// (errs); items[i] is the item as written, or as read when nothing was
// written. decide must not delete or create other records.
//
// One TransactWriteItems per group of up to 100 items was built and measured
// (2026-12-07) but is not used: on the AWS-shaped test stack (moto) a live
// run's grouped claims stalled the execution (it never ended within 3 minutes; per item it takes ~2.5); see
// docs/decisions.md.
func (s *Store) modifyMany(ctx context.Context, refs []ref, decide func(i int, cur item) (change, error)) (items []item, errs []error, err error) {
	items, errs = make([]item, len(refs)), make([]error, len(refs))
	for i, r := range refs {
		it, err := s.modify(ctx, r.pk, r.sk, func(c item) (change, error) { return decide(i, c) })
		items[i] = it
		if err != nil {
			if errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrNotFound) {
				errs[i] = err
				continue
			}
			return items, errs, err
		}
	}
	return items, errs, nil
}

// ClaimSends implements state.Ledger: a group's claims are one TransactWriteItems of
// conditional puts.
func (s *Store) ClaimSends(ctx context.Context, cs []state.SendClaim, at time.Time, lease time.Duration) ([]state.SendResult, error) {
	if err := state.CheckSendClaims(cs, lease); err != nil {
		return nil, err
	}
	refs := make([]ref, len(cs))
	for i, c := range cs {
		refs[i] = ref{sendPK(c.Key.RunID, c.Key.Activity), sendSK(c.Key)}
	}
	claimed := make([]bool, len(cs))
	items, _, err := s.modifyMany(ctx, refs, func(i int, cur item) (change, error) {
		if claimed[i] = cur == nil; !claimed[i] {
			return change{}, nil
		}
		e, err := state.NewLedgerEntry(cs[i].Key, cs[i].Token, at, lease)
		return change{head: sendRec(e)}, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]state.SendResult, len(cs))
	for i, it := range items {
		e, err := decode[state.LedgerEntry](it)
		if err != nil {
			return nil, err
		}
		out[i] = state.SendResult{Entry: e, Claimed: claimed[i]}
	}
	return out, nil
}

// CompleteSends implements state.Ledger: a group's completions are one read and one
// TransactWriteItems of puts conditional on the revisions read.
func (s *Store) CompleteSends(ctx context.Context, cs []state.SendCompletion, at time.Time) ([]state.SendResult, error) {
	refs := make([]ref, len(cs))
	for i, c := range cs {
		refs[i] = ref{sendPK(c.Held.RunID, c.Held.Activity), sendSK(c.Held.SendKey)}
	}
	items, errs, err := s.modifyMany(ctx, refs, func(i int, cur item) (change, error) {
		if cur == nil {
			return change{}, fmt.Errorf("%w: send %v", state.ErrNotFound, cs[i].Held.SendKey)
		}
		e, err := decode[state.LedgerEntry](cur)
		if err != nil {
			return change{}, err
		}
		e, err = state.CompleteEntry(e, cs[i].Held, cs[i].MessageID, cs[i].Variant, at)
		return change{head: sendRec(e)}, err
	})
	if err != nil {
		return nil, err
	}
	out := make([]state.SendResult, len(cs))
	for i, it := range items {
		out[i].Err = errs[i]
		if errs[i] == nil {
			if out[i].Entry, err = decode[state.LedgerEntry](it); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ReserveCaps implements state.Caps: a group's reservations are one read and one
// TransactWriteItems.
func (s *Store) ReserveCaps(ctx context.Context, rs []state.CapRequest) ([]bool, error) {
	if err := state.CheckCapRequests(rs); err != nil {
		return nil, err
	}
	refs := make([]ref, len(rs))
	for i, r := range rs {
		refs[i] = ref{capPK(r.Channel, r.Recipient), "CAP"}
	}
	granted := make([]bool, len(rs))
	_, _, err := s.modifyMany(ctx, refs, func(i int, cur item) (change, error) {
		var l state.CapLog
		if cur != nil {
			var err error
			if l, err = decode[state.CapLog](cur); err != nil {
				return change{}, err
			}
		}
		l, granted[i] = l.Reserve(rs[i])
		if !granted[i] {
			return change{}, nil
		}
		return change{head: capRec(rs[i].Recipient, rs[i].Channel, l)}, nil
	})
	if err != nil {
		return nil, err
	}
	return granted, nil
}
