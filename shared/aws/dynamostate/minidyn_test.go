package dynamostate_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	miniserver "github.com/truora/minidyn/server"

	"github.com/stepwise-run/stepwise/shared/aws/dynamostate"
	"github.com/stepwise-run/stepwise/shared/state"
	"github.com/stepwise-run/stepwise/shared/state/statetest"
	"github.com/stepwise-run/stepwise/shared/testenv"
)

// TestContractMinidyn runs the contract on minidyn, in process: no Java needed.
// minidyn reports no table status and has no TTL, so the table is made from Schema.
func TestContractMinidyn(t *testing.T) {
	runMinidyn(t, http.DefaultTransport)
}

// TestContractLostAnswers runs the contract with the answers to many writes lost after
// the writes landed (DynamoDB answers 500): a write whose outcome is unknown must count
// once, never twice, never as a lost race or an existing item.
func TestContractLostAnswers(t *testing.T) {
	lost := &loseAnswers{next: http.DefaultTransport}
	t.Cleanup(func() { // after the parallel subtests
		if lost.n.Load() == 0 {
			t.Error("no write answer was lost")
		}
	})
	runMinidyn(t, lost)
}

func runMinidyn(t *testing.T, rt http.RoundTripper) {
	srv := httptest.NewServer(tableLock(miniserver.NewServer()))
	t.Cleanup(srv.Close)
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(srv.URL)
		o.HTTPClient = &http.Client{Transport: rt}
		o.DisableValidateResponseChecksum = true
		o.Retryer = retry.NewStandard(func(o *retry.StandardOptions) { o.RateLimiter = ratelimit.None })
	})
	statetest.Run(t, func(t *testing.T) state.Store {
		table := testenv.TableName(t)
		if _, err := db.CreateTable(context.Background(), dynamostate.Schema(table)); err != nil {
			t.Fatal(err)
		}
		return dynamostate.New(db, table)
	})
}

// loseAnswers forwards every request; for some writes it drops the answer and returns
// DynamoDB's InternalServerError instead.
type loseAnswers struct {
	next   http.RoundTripper
	writes atomic.Int64
	n      atomic.Int64 // answers lost
}

func (l *loseAnswers) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := l.next.RoundTrip(r)
	target := r.Header.Get("X-Amz-Target")
	write := strings.HasSuffix(target, ".PutItem") || strings.HasSuffix(target, ".DeleteItem") ||
		strings.HasSuffix(target, ".TransactWriteItems")
	// The SDK retries a write it may retry (max>1): lose the first attempt's answer. The
	// store's conditional writes are single attempts: lose every third answer.
	attempt := r.Header.Get("Amz-Sdk-Request")
	retried := !strings.HasSuffix(attempt, "max=1")
	lose := write && (retried && strings.HasPrefix(attempt, "attempt=1;") || !retried && l.writes.Add(1)%3 == 0)
	if err != nil || !lose {
		return res, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	l.n.Add(1)
	body := `{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost (test)"}`
	return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
		Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body:   io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
}

// tableLock serializes CreateTable with every other call: minidyn (v0.8.2) adds the
// table to its map without holding its lock, which races with the parallel subtests.
func tableLock(next http.Handler) http.Handler {
	var mu sync.RWMutex
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".CreateTable") {
			mu.Lock()
			defer mu.Unlock()
		} else {
			mu.RLock()
			defer mu.RUnlock()
		}
		next.ServeHTTP(w, r)
	})
}
