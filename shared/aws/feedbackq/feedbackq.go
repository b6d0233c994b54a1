// Package feedbackq hands message feedback records to the stack's feedback queue,
// where the Feedback function appends them to message_feedback in batches (it reads
// Stepwise records as well as SES and End User Messaging events).
package feedbackq

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/stepwise-run/stepwise/shared/feedback"
)

// Sender is the part of the SQS client the queue uses.
type Sender interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// Queue is a feedback queue (api.FeedbackRecorder).
type Queue struct {
	SQS Sender
	URL string
}

// batch is SQS's most entries per SendMessageBatch.
const batch = 10

// RecordFeedback sends each record as one message, ten per call. A record SQS refuses
// fails the call, naming it; records it took stay sent (appending is idempotent by
// eventId, so sending them again adds nothing twice).
func (q *Queue) RecordFeedback(ctx context.Context, recs ...feedback.Record) error {
	for start := 0; start < len(recs); start += batch {
		part := recs[start:min(start+batch, len(recs))]
		entries := make([]types.SendMessageBatchRequestEntry, len(part))
		for i, r := range part {
			body, err := json.Marshal(r)
			if err != nil {
				return err
			}
			entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))}
		}
		out, err := q.SQS.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL), Entries: entries})
		if err != nil {
			return fmt.Errorf("feedback queue: %w", err)
		}
		if len(out.Failed) > 0 {
			var failed []string
			for _, f := range out.Failed {
				i, _ := strconv.Atoi(aws.ToString(f.Id))
				failed = append(failed, fmt.Sprintf("%s (%s: %s)", part[i].ID, aws.ToString(f.Code), aws.ToString(f.Message)))
			}
			return fmt.Errorf("feedback queue refused %d of %d records: %s", len(failed), len(part), strings.Join(failed, "; "))
		}
	}
	return nil
}
