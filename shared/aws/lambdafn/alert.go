package lambdafn

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepwise-run/stepwise/shared/aws/awserr"
)

// SNSAlerter publishes alerts to an SNS topic operators subscribe to.
type SNSAlerter struct {
	Client *sns.Client
	Topic  string
}

// Alert implements flow.Alerter.
func (a SNSAlerter) Alert(ctx context.Context, campaign, runID, title, message string) error {
	subject := asciiSubject(fmt.Sprintf("[stepwise] %s: %s", campaign, title))
	body := fmt.Sprintf("Campaign %s, run %s\n\n%s\n\n%s\n", campaign, runID, title, message)
	_, err := a.Client.Publish(ctx, &sns.PublishInput{TopicArn: &a.Topic, Subject: &subject, Message: &body})
	return awserr.Mark(err) // throttling, a 5xx: the alert is retried
}

// asciiSubject fits SNS's subject rules: printable ASCII, under 100 characters.
func asciiSubject(s string) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if len(b) == 99 {
			break
		}
		if r < 0x20 || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(b)
}
