package feedbackq_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/stepwise-run/stepwise/shared/aws/feedbackq"
	"github.com/stepwise-run/stepwise/shared/feedback"
	"github.com/stepwise-run/stepwise/shared/unsubscribe"
)

// fakeSQS answers SendMessageBatch in SQS's JSON protocol and refuses bodies that
// contain "refuse".
type fakeSQS struct {
	mu     sync.Mutex
	calls  int
	bodies []string
}

func (f *fakeSQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
		http.Error(w, `{"__type":"InvalidAction"}`, 400)
		return
	}
	var in struct {
		QueueUrl string
		Entries  []struct{ Id, MessageBody string }
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.QueueUrl != "https://sqs.local/feedback" || len(in.Entries) > 10 {
		http.Error(w, `{"__type":"InvalidParameterValue"}`, 400)
		return
	}
	type ok struct{ Id, MessageId, MD5OfMessageBody string }
	type failed struct {
		Id, Code, Message string
		SenderFault       bool
	}
	out := struct {
		Successful []ok
		Failed     []failed
	}{Successful: []ok{}, Failed: []failed{}}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for _, e := range in.Entries {
		if strings.Contains(e.MessageBody, "refuse") {
			out.Failed = append(out.Failed, failed{Id: e.Id, Code: "InvalidMessageContents", Message: "refused", SenderFault: true})
			continue
		}
		sum := md5.Sum([]byte(e.MessageBody))
		f.bodies = append(f.bodies, e.MessageBody)
		out.Successful = append(out.Successful, ok{Id: e.Id, MessageId: fmt.Sprint(len(f.bodies)), MD5OfMessageBody: hex.EncodeToString(sum[:])})
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func newQueue(t *testing.T) (*feedbackq.Queue, *fakeSQS) {
	fake := &fakeSQS{}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")})
	return &feedbackq.Queue{SQS: client, URL: "https://sqs.local/feedback"}, fake
}

func TestRecordFeedback(t *testing.T) {
	q, fake := newQueue(t)
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	var recs []feedback.Record
	for i := range 23 {
		recs = append(recs, feedback.FromUnsubscribe(unsubscribe.Claims{Campaign: "c", Run: "r", Activity: "mail",
			Recipient: fmt.Sprintf("C%d", i), Channel: "email", Address: fmt.Sprintf("p%d@example.com", i)}, at))
	}
	if err := q.RecordFeedback(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	if fake.calls != 3 || len(fake.bodies) != 23 {
		t.Fatalf("%d calls, %d messages; want 3 and 23", fake.calls, len(fake.bodies))
	}
	// The Feedback function reads each message back as the record sent.
	for i, body := range fake.bodies {
		got, err := feedback.ParseEvent([]byte(body))
		if err != nil || len(got) != 1 || got[0].ID != recs[i].ID || got[0].Event != feedback.Unsubscribed || !got[0].At.Equal(at) {
			t.Fatalf("message %d: %v %+v", i, err, got)
		}
	}
}

func TestRefusedRecordsAreNamed(t *testing.T) {
	q, _ := newQueue(t)
	ok := feedback.Record{ID: "fine", Event: feedback.Unsubscribed}
	bad := feedback.Record{ID: "unsubscribe:refuse-me", Event: feedback.Unsubscribed}
	err := q.RecordFeedback(context.Background(), ok, bad)
	if err == nil || !strings.Contains(err.Error(), "1 of 2") || !strings.Contains(err.Error(), "unsubscribe:refuse-me (InvalidMessageContents") {
		t.Fatalf("error = %v", err)
	}
}
