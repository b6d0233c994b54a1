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

// maxTransact is the most items one TransactWriteItems takes.
const maxTransact = 100

// ref names an item.
type ref struct{ pk, sk string }

// modifyMany is modify for many items: per group of up to 100 distinct items, one
// strongly consistent BatchGetItem, decide per item, and one TransactWriteItems of
// the changes, each conditional on the revision read (or on the item's absence).
// BatchWriteItem has no conditions, so it cannot be used. When the transaction is
// canceled (an item changed since the read, or a condition failed), or its outcome is
// unknown and reading it back shows it did not land, every item of the group goes
// through modify on its own, which reads it again and decides again. decide may fail
// for its item alone (errs); items[i] is the item as written, or as read when nothing
// was written. decide must not delete or create other records.
func (s *Store) modifyMany(ctx context.Context, refs []ref, decide func(i int, cur item) (change, error)) (items []item, errs []error, err error) {
	items, errs = make([]item, len(refs)), make([]error, len(refs))
	for start := 0; start < len(refs); {
		end, seen := start, map[ref]bool{}
		for end < len(refs) && end-start < maxTransact && !seen[refs[end]] {
			seen[refs[end]] = true
			end++
		}
		if err := s.modifyGroup(ctx, refs, start, end, decide, items, errs); err != nil {
			return items, errs, err
		}
		start = end
	}
	return items, errs, nil
}

func (s *Store) modifyGroup(ctx context.Context, refs []ref, start, end int, decide func(i int, cur item) (change, error), items []item, errs []error) error {
	cur, err := s.getMany(ctx, refs[start:end])
	if err != nil {
		return err
	}
	var writes []types.TransactWriteItem
	var written []int
	var heads []item
	for i := start; i < end; i++ {
		c := cur[refs[i]]
		ch, derr := decide(i, c)
		items[i], errs[i] = c, derr
		if derr != nil || ch.head == nil {
			continue
		}
		if ch.del || len(ch.creates) > 0 {
			return fmt.Errorf("dynamostate: modifyMany writes heads only")
		}
		cond, vals, rev := "attribute_not_exists(pk)", item(nil), int64(0)
		if c != nil {
			rev = getNum(c, "rev")
			cond, vals = "rev = :rev", item{":rev": num(rev)}
		}
		head, err := ch.head.item(rev + 1)
		if err != nil {
			return err
		}
		stamp(head, c)
		writes = append(writes, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: head,
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}})
		written, heads = append(written, i), append(heads, head)
	}
	if len(writes) == 0 {
		return nil
	}
	if len(writes) > 1 {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: writes}, noRetry)
	} else {
		p := writes[0].Put
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: p.Item,
			ConditionExpression: p.ConditionExpression, ExpressionAttributeValues: p.ExpressionAttributeValues}, noRetry)
	}
	if err == nil {
		for j, i := range written {
			items[i] = heads[j]
		}
		return nil
	}
	var failed *types.ConditionalCheckFailedException
	var canceled *types.TransactionCanceledException
	var conflict *types.TransactionConflictException
	switch {
	case errors.As(err, &failed), errors.As(err, &canceled), errors.As(err, &conflict):
		// Nothing was written.
	case unknownOutcome(err):
		// All or nothing: the first item tells whether the group landed.
		r := refs[written[0]]
		now, gerr := s.get(ctx, r.pk, r.sk)
		if gerr != nil {
			return gerr
		}
		if ours(now, lastToken(heads[0])) {
			for j, i := range written {
				items[i] = heads[j]
			}
			return nil
		}
	default:
		return fmt.Errorf("dynamostate: write %d items: %w", len(writes), awserr.Mark(err))
	}
	for _, i := range written {
		r := refs[i]
		it, err := s.modify(ctx, r.pk, r.sk, func(c item) (change, error) { return decide(i, c) })
		items[i], errs[i] = it, nil
		if err != nil {
			if errors.Is(err, state.ErrConflict) || errors.Is(err, state.ErrNotFound) {
				errs[i] = err
				continue
			}
			return err
		}
	}
	return nil
}

// getMany reads items strongly consistent, 100 at a time; absent ones are missing.
func (s *Store) getMany(ctx context.Context, refs []ref) (map[ref]item, error) {
	out := map[ref]item{}
	for len(refs) > 0 {
		n := min(len(refs), 100)
		keys := make([]item, n)
		for i, r := range refs[:n] {
			keys[i] = keyOf(r.pk, r.sk)
		}
		refs = refs[n:]
		for attempt := 0; len(keys) > 0; attempt++ {
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
				s.table: {Keys: keys, ConsistentRead: aws.Bool(true)},
			}})
			if err != nil {
				return nil, fmt.Errorf("dynamostate: read %d items: %w", len(keys), awserr.Mark(err))
			}
			for _, it := range res.Responses[s.table] {
				out[ref{getStr(it, "pk"), getStr(it, "sk")}] = it
			}
			keys = res.UnprocessedKeys[s.table].Keys
			if len(keys) > 0 {
				if err := backoff(ctx, attempt+3); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
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
