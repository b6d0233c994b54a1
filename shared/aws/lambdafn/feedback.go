package lambdafn

// FeedbackBatch is what the feedback function receives: an SQS batch (the
// template subscribes a queue to the SES event topic with raw delivery, so
// each body is an SES event) or, subscribed to the topic directly, an SNS
// event (each message an SES event).
type FeedbackBatch struct {
	Records []struct {
		MessageID string `json:"messageId"` // SQS
		Body      string `json:"body"`      // SQS
		Sns       *struct {
			MessageID string `json:"MessageId"`
			Message   string `json:"Message"`
		} `json:"Sns"`
	} `json:"Records"`
}

// Bodies returns the event documents of the batch, in order: SQS bodies,
// or SNS messages.
func (b FeedbackBatch) Bodies() []string {
	out := make([]string, 0, len(b.Records))
	for _, r := range b.Records {
		if r.Sns != nil {
			out = append(out, r.Sns.Message)
		} else {
			out = append(out, r.Body)
		}
	}
	return out
}
