// Package dynamostate is state.Store on one DynamoDB table, for the AWS deployment.
//
// The table is a single-table design; CreateTable makes it, and the SAM template
// declares the same schema:
//
//	key            pk (S, HASH), sk (S, RANGE)
//	index gsi1     gsi1pk (S, HASH), gsi1sk (S, RANGE), projection ALL
//	TTL attribute  expiresAt (N, epoch seconds)
//	billing        PAY_PER_REQUEST
//
// Every item holds the record as JSON in data (S) and its revision in rev (N); writes
// are conditional on rev (optimistic concurrency, retried from a fresh read) or on
// attribute_not_exists(pk), and TransactWriteItems when two items change together.
// Each write also adds a random token to wtok (S, the last 32 writes' tokens). A write
// can land and still lose its answer (a 500, a dropped connection); retried blindly, it
// would fail its own condition and read as a lost race. So conditional writes are single
// attempts, and after an unknown outcome the store reads the item back at once: its token
// there means the write landed, even under up to 31 later writes by others.
//
//	item                pk                          sk                   gsi1pk / gsi1sk
//	campaign            CAMPAIGN#<id>               CAMPAIGN             CAMPAIGNS / <id>
//	version             CAMPAIGN#<id>               VERSION#<%010d n>
//	schedule firing     CAMPAIGN#<id>               FIRING#<slot>
//	incremental state   CAMPAIGN#<id>               INCR#<activity>
//	run                 RUN#<id>                    RUN                  RUNS#<campaign> / <startedAt>#<id>
//	task                RUN#<id>                    TASK#<activity>
//	run idempotency key RUNKEY#<campaign>#<key>     RUNKEY
//	table head          TABLE#<name>                HEAD                 TABLES / <name>
//	table version       TABLE#<name>                V#<%020d n>
//	audience head       AUDIENCE#<name>             HEAD                 AUDIENCES / <name>
//	audience version    AUDIENCE#<name>             V#<%020d n>
//	idempotency key     KEY#<key>                   KEY                  (expiresAt)
//	send ledger entry   SEND#<run>#<activity>       <channel>#<recipient>
//	suppression         SUPPRESS#<channel>#<addr>   SUPPRESS             SUPPRESS#<channel> / <addr>
//	frequency-cap log   CAP#<channel>#<recipient>   CAP                  (expiresAt)
//
// Times in keys are fixed-width UTC (state.TimeKey), so they sort as times. A run's
// ledger entries share one partition per activity so that a strongly consistent Query
// reads them back; a partition takes about 1,000 writes/s (some 500 messages/s at a
// claim and a completion each) until DynamoDB splits it by sort key.
//
// The Store honours the SDK's endpoint settings (AWS_ENDPOINT_URL_DYNAMODB) through the
// client the caller builds with config.LoadDefaultConfig; it loads no configuration.
package dynamostate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/stepwise-run/stepwise/shared/aws/awserr"
	"github.com/stepwise-run/stepwise/shared/state"
)

// GSI1 is the name of the table's secondary index.
const GSI1 = "gsi1"

// Store is state.Store on DynamoDB.
type Store struct {
	db    *dynamodb.Client
	table string
}

var _ state.Store = (*Store)(nil)

// New returns a Store on the table, which must exist with the schema above.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{db: db, table: table}
}

// Schema returns the CreateTable request of a table with the schema above, less TTL,
// which needs a separate UpdateTimeToLive on expiresAt.
func Schema(table string) *dynamodb.CreateTableInput {
	str := types.ScalarAttributeTypeS
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: str},
			{AttributeName: aws.String("sk"), AttributeType: str},
			{AttributeName: aws.String("gsi1pk"), AttributeType: str},
			{AttributeName: aws.String("gsi1sk"), AttributeType: str},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(GSI1),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String("gsi1pk"), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String("gsi1sk"), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// CreateTable creates the table with the schema above if it does not exist, waits until
// it is active and enables TTL on expiresAt. It is meant for tests and local
// development; deployments get the table from the SAM template.
func (s *Store) CreateTable(ctx context.Context) error {
	_, err := s.db.CreateTable(ctx, Schema(s.table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("dynamostate: create table %s: %w", s.table, err)
	}
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		out, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
		if err != nil {
			return fmt.Errorf("dynamostate: describe table %s: %w", s.table, err)
		}
		if active(out.Table) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	_, err = s.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName:               aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{AttributeName: aws.String("expiresAt"), Enabled: aws.Bool(true)},
	})
	var api smithy.APIError
	if err != nil && !(errors.As(err, &api) && api.ErrorCode() == "ValidationException") { // already enabled
		return fmt.Errorf("dynamostate: enable TTL on %s: %w", s.table, err)
	}
	return nil
}

func active(t *types.TableDescription) bool {
	if t == nil || t.TableStatus != types.TableStatusActive {
		return false
	}
	for _, g := range t.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// item is a DynamoDB item.
type item = map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getStr(it item, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getNum(it item, name string) int64 {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

// rec is a record to write: its keys and its data.
type rec struct {
	pk, sk         string
	gsi1pk, gsi1sk string
	expiresAt      time.Time
	data           any
}

// item encodes r at revision rev.
func (r rec) item(rev int64) (item, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.data); err != nil {
		return nil, err
	}
	it := item{"pk": str(r.pk), "sk": str(r.sk), "rev": num(rev), "data": str(string(bytes.TrimSpace(b.Bytes())))}
	if r.gsi1pk != "" {
		it["gsi1pk"], it["gsi1sk"] = str(r.gsi1pk), str(r.gsi1sk)
	}
	if !r.expiresAt.IsZero() {
		it["expiresAt"] = num(r.expiresAt.Unix())
	}
	return it, nil
}

// decode returns the record in it.
func decode[T any](it item) (T, error) {
	var v T
	err := json.Unmarshal([]byte(getStr(it, "data")), &v)
	if err != nil {
		err = fmt.Errorf("dynamostate: decode %s/%s: %w", getStr(it, "pk"), getStr(it, "sk"), err)
	}
	return v, err
}

func decodeAll[T any](items []item) ([]T, error) {
	out := make([]T, 0, len(items))
	for _, it := range items {
		v, err := decode[T](it)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func keyOf(pk, sk string) item { return item{"pk": str(pk), "sk": str(sk)} }

// get reads an item, strongly consistent; nil when absent.
func (s *Store) get(ctx context.Context, pk, sk string) (item, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: &s.table, Key: keyOf(pk, sk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("dynamostate: get %s/%s: %w", pk, sk, awserr.Mark(err))
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

// getRec reads and decodes a record; ErrNotFound when absent.
func getRec[T any](ctx context.Context, s *Store, pk, sk string) (T, error) {
	it, err := s.get(ctx, pk, sk)
	if err == nil && it == nil {
		err = fmt.Errorf("%w: %s/%s", state.ErrNotFound, pk, sk)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	return decode[T](it)
}

// create writes r if nothing is stored under its key. On failure it returns ErrExists
// and the stored item.
func (s *Store) create(ctx context.Context, r rec) (item, error) {
	it, err := r.item(1)
	if err != nil {
		return nil, err
	}
	tok := stamp(it, nil)
	for attempt := 0; ; attempt++ {
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: &s.table, Item: it,
			ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}, noRetry)
		var failed *types.ConditionalCheckFailedException
		var old item
		switch {
		case err == nil:
			return it, nil
		case errors.As(err, &failed):
			old = failed.Item
		case !unknownOutcome(err) || attempt == maxUnknown:
			return nil, fmt.Errorf("dynamostate: put %s/%s: %w", r.pk, r.sk, awserr.Mark(err))
		}
		if len(old) == 0 { // the outcome is unknown, or an emulator did not return the item
			if old, err = s.get(ctx, r.pk, r.sk); err != nil {
				return nil, err
			}
		}
		switch {
		case ours(old, tok):
			return it, nil
		case old != nil:
			return old, fmt.Errorf("%w: %s/%s", state.ErrExists, r.pk, r.sk)
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// noRetry turns the SDK's retries off for a conditional write: a retry of an attempt
// that landed unanswered would fail its condition and read as a lost race. The store
// resolves such unknown outcomes itself, from a fresh read and the write tokens.
func noRetry(o *dynamodb.Options) { o.RetryMaxAttempts = 1 }

// maxUnknown bounds how often one write is tried again after an unknown outcome.
const maxUnknown = 5

// unknownOutcome reports whether err leaves open whether a write landed: the errors the
// SDK would have retried (server errors, throttling, dropped connections, timeouts).
func unknownOutcome(err error) bool { return awserr.Retryable(err) }

// keptTokens is how many writes' tokens an item keeps in wtok: a write whose answer was
// lost is recognized as long as fewer other writes land before the read that follows it
// (8 was too few: concurrent writers to one task log scrolled a token out within a
// backoff, and the line was appended twice).
const keptTokens = 32

// stamp gives it a fresh write token after the last ones of prev, and returns it.
func stamp(it, prev item) string {
	tok := strconv.FormatUint(rand.Uint64(), 36)
	toks := strings.Fields(getStr(prev, "wtok"))
	toks = append(toks[max(0, len(toks)-keptTokens+1):], tok)
	it["wtok"] = str(strings.Join(toks, " "))
	return tok
}

// lastToken is the token of the write that made it.
func lastToken(it item) string {
	toks := strings.Fields(getStr(it, "wtok"))
	if len(toks) == 0 {
		return ""
	}
	return toks[len(toks)-1]
}

// ours reports whether the write with token tok is among the last ones of stored.
func ours(stored item, tok string) bool {
	return tok != "" && slices.Contains(strings.Fields(getStr(stored, "wtok")), tok)
}

// change is what a modify writes: the head record, conditional on the revision read,
// and records that must not exist yet. A nil head writes nothing; del deletes the head.
type change struct {
	head    *rec
	del     bool
	creates []rec
}

// errRace says the item changed between read and write.
var errRace = errors.New("dynamostate: lost a race")

// maxRetries bounds the read-decide-write rounds of a modify under contention.
const maxRetries = 100

// modify reads the item pk/sk (nil when absent), lets decide choose the change and writes
// it conditionally, starting again from a fresh read when another writer got there first
// or the outcome of the write is unknown. It returns the head item as written (or as read
// when nothing was written). Errors from decide end it unchanged.
func (s *Store) modify(ctx context.Context, pk, sk string, decide func(cur item) (change, error)) (item, error) {
	tried := map[string]item{} // heads written without success seen, by token
	deleted, unknown := false, 0
	for attempt := 0; ; attempt++ {
		cur, err := s.get(ctx, pk, sk)
		if err != nil {
			return nil, err
		}
		for _, tok := range strings.Fields(getStr(cur, "wtok")) {
			if it, ok := tried[tok]; ok {
				return it, nil // an earlier attempt landed after all
			}
		}
		if deleted && cur == nil {
			return nil, nil // deleted, by us or by a concurrent delete: the same outcome
		}
		c, err := decide(cur)
		if err != nil {
			return cur, err
		}
		if c.head == nil && !c.del {
			return cur, nil
		}
		written, err := s.write(ctx, pk, sk, cur, c)
		lost := false
		switch {
		case err == nil:
			return written, nil
		case errors.Is(err, errRace):
		case unknownOutcome(err) && unknown < maxUnknown:
			unknown, lost = unknown+1, true
		default:
			return nil, err
		}
		if written != nil {
			tried[lastToken(written)] = written
		}
		deleted = deleted || c.del
		if attempt == maxRetries {
			return nil, fmt.Errorf("%w: %s/%s: too much contention", state.ErrConflict, pk, sk)
		}
		if lost && written != nil {
			// Read back at once, before later writes push our token out; back off
			// only before writing again.
			if now, err := s.get(ctx, pk, sk); err == nil && ours(now, lastToken(written)) {
				return written, nil
			}
		}
		if err := backoff(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)) + 1))
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// write performs a modify's change over cur and returns the head written. It returns
// errRace when cur changed, ErrExists when a record to create exists, and the head with
// the SDK's error when the outcome is unknown.
func (s *Store) write(ctx context.Context, pk, sk string, cur item, c change) (item, error) {
	cond, vals := "attribute_not_exists(pk)", item(nil)
	rev := int64(0)
	if cur != nil {
		rev = getNum(cur, "rev")
		cond, vals = "rev = :rev", item{":rev": num(rev)}
	}
	var head item
	var items []types.TransactWriteItem
	if c.del {
		items = append(items, types.TransactWriteItem{Delete: &types.Delete{TableName: &s.table, Key: keyOf(pk, sk),
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}})
	} else {
		var err error
		if head, err = c.head.item(rev + 1); err != nil {
			return nil, err
		}
		stamp(head, cur)
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: head,
			ConditionExpression: aws.String(cond), ExpressionAttributeValues: vals}})
	}
	for _, r := range c.creates {
		it, err := r.item(1)
		if err != nil {
			return nil, err
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: &s.table, Item: it,
			ConditionExpression: aws.String("attribute_not_exists(pk)")}})
	}

	var err error
	if len(items) == 1 && c.del {
		d := items[0].Delete
		_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &s.table, Key: d.Key,
			ConditionExpression: d.ConditionExpression, ExpressionAttributeValues: d.ExpressionAttributeValues}, noRetry)
	} else if len(items) == 1 {
		p := items[0].Put
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: &s.table, Item: p.Item,
			ConditionExpression: p.ConditionExpression, ExpressionAttributeValues: p.ExpressionAttributeValues}, noRetry)
	} else {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}, noRetry)
	}
	var failed *types.ConditionalCheckFailedException
	var canceled *types.TransactionCanceledException
	var conflict *types.TransactionConflictException
	switch {
	case err == nil:
		return head, nil
	case errors.As(err, &failed), errors.As(err, &conflict):
		return head, errRace
	case errors.As(err, &canceled):
		reasons := canceled.CancellationReasons
		if len(reasons) == len(items) && aws.ToString(reasons[0].Code) != "ConditionalCheckFailed" {
			for i, r := range reasons[1:] {
				if aws.ToString(r.Code) == "ConditionalCheckFailed" {
					return nil, fmt.Errorf("%w: %s/%s", state.ErrExists, c.creates[i].pk, c.creates[i].sk)
				}
			}
		}
		return head, errRace // the head changed, or a transaction conflict
	}
	return head, fmt.Errorf("dynamostate: write %s/%s: %w", pk, sk, awserr.Mark(err))
}

// query returns the items of in, at most limit (all when limit <= 0), and whether more
// exist. It drops the item whose sort key attribute skipAttr equals skip, the cursor.
func (s *Store) query(ctx context.Context, in *dynamodb.QueryInput, limit int, skipAttr, skip string) ([]item, bool, error) {
	in.TableName = &s.table
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit + 2))
	}
	var out []item
	for {
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("dynamostate: query: %w", awserr.Mark(err))
		}
		for _, it := range res.Items {
			if skip != "" && getStr(it, skipAttr) == skip {
				continue
			}
			out = append(out, it)
		}
		if limit > 0 && len(out) > limit {
			return out[:limit], true, nil
		}
		if res.LastEvaluatedKey == nil {
			return out, false, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// maxKey sorts after any sort key the store writes.
const maxKey = "\U0010FFFF"

// list queries the items whose partition key attribute pkAttr is pk and whose sort key
// attribute skAttr starts with prefix, in sort key order (descending when desc), after
// the cursor p.After (a sort key without the prefix). It returns the next cursor.
func (s *Store) list(ctx context.Context, index, pkAttr, pk, skAttr, prefix string, p state.Page, desc bool) ([]item, string, error) {
	in := &dynamodb.QueryInput{
		ExpressionAttributeNames:  map[string]string{"#pk": pkAttr, "#sk": skAttr},
		ExpressionAttributeValues: item{":pk": str(pk)},
		ScanIndexForward:          aws.Bool(!desc),
		ConsistentRead:            aws.Bool(index == ""),
	}
	if index != "" {
		in.IndexName = aws.String(index)
	}
	skip := ""
	if p.After != "" {
		skip = prefix + p.After
	}
	switch {
	case skip != "" && prefix == "" && desc:
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk <= :hi")
		in.ExpressionAttributeValues[":hi"] = str(skip)
	case skip != "" && prefix == "":
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk >= :lo")
		in.ExpressionAttributeValues[":lo"] = str(skip)
	case skip != "" && desc:
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi")
		in.ExpressionAttributeValues[":lo"], in.ExpressionAttributeValues[":hi"] = str(prefix), str(skip)
	case skip != "":
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi")
		in.ExpressionAttributeValues[":lo"], in.ExpressionAttributeValues[":hi"] = str(skip), str(prefix+maxKey)
	case prefix != "":
		in.KeyConditionExpression = aws.String("#pk = :pk AND begins_with(#sk, :prefix)")
		in.ExpressionAttributeValues[":prefix"] = str(prefix)
	default:
		in.KeyConditionExpression = aws.String("#pk = :pk")
		delete(in.ExpressionAttributeNames, "#sk")
	}
	items, more, err := s.query(ctx, in, p.Limit, skAttr, skip)
	if err != nil || !more {
		return items, "", err
	}
	last := getStr(items[len(items)-1], skAttr)
	return items, last[len(prefix):], nil
}
