package lambdafn_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stepwise-run/stepwise/shared/aws/lambdafn"
)

func TestFeedbackBatch(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "events", "feedback.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sqs lambdafn.FeedbackBatch
	if err := json.Unmarshal(data, &sqs); err != nil {
		t.Fatal(err)
	}
	if b := sqs.Bodies(); len(b) != 2 || !json.Valid([]byte(b[0])) {
		t.Errorf("SQS batch: %d bodies", len(b))
	}
	var sns lambdafn.FeedbackBatch
	if err := json.Unmarshal([]byte(`{"Records":[{"EventSource":"aws:sns","Sns":{"MessageId":"sns-1","Message":"{\"eventType\":\"Open\"}"}}]}`), &sns); err != nil {
		t.Fatal(err)
	}
	if b := sns.Bodies(); len(b) != 1 || b[0] != `{"eventType":"Open"}` {
		t.Errorf("SNS batch: %v", b)
	}
}
