// Package sessend sends email with Amazon SES v2 SendEmail: simple content
// (subject, html, text) with the message's extra headers (List-Unsubscribe,
// List-Unsubscribe-Post), a configuration set for event publishing, and
// message tags carrying campaign, activity, run, recipient and token so that
// SES events (feedback.ParseSESEvent) find their send.
package sessend

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/stepwise-run/stepwise/shared/send"
)

// Client is the part of the SES v2 client the sender uses.
type Client interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, opts ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// Sender is a send.Sender on SES v2.
type Sender struct {
	Client Client
	// ConfigurationSet publishes SEND, DELIVERY, BOUNCE, COMPLAINT, OPEN,
	// CLICK... events (to SNS or EventBridge, then the feedback function).
	ConfigurationSet string
	// FromArn is the sending identity ARN when it differs from the From domain.
	FromArn string
}

var _ send.Sender = (*Sender)(nil)

// Send implements send.Sender.
func (s *Sender) Send(ctx context.Context, m *send.Message) (string, error) {
	if m.Channel != "" && m.Channel != send.Email {
		return "", &send.Permanent{Msg: "SES sends email only", Account: true}
	}
	out, err := s.Client.SendEmail(ctx, s.input(m))
	if err != nil {
		return "", Classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

func (s *Sender) input(m *send.Message) *sesv2.SendEmailInput {
	utf8 := aws.String("UTF-8")
	body := &types.Body{}
	if m.HTML != "" {
		body.Html = &types.Content{Data: aws.String(m.HTML), Charset: utf8}
	}
	if m.Text != "" {
		body.Text = &types.Content{Data: aws.String(m.Text), Charset: utf8}
	}
	msg := &types.Message{Subject: &types.Content{Data: aws.String(m.Subject), Charset: utf8}, Body: body}
	for _, h := range m.Headers {
		msg.Headers = append(msg.Headers, types.MessageHeader{Name: aws.String(h.Name), Value: aws.String(h.Value)})
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(m.From),
		Destination:      &types.Destination{ToAddresses: []string{m.To}},
		Content:          &types.EmailContent{Simple: msg},
		EmailTags:        Tags(m.Tags),
	}
	if m.ReplyTo != "" {
		in.ReplyToAddresses = []string{m.ReplyTo}
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if s.FromArn != "" {
		in.FromEmailAddressIdentityArn = aws.String(s.FromArn)
	}
	return in
}

// Tags converts message tags to SES tags: names and values limited to
// ASCII letters, digits, _ and - (others become _), 256 characters.
func Tags(tags map[string]string) []types.MessageTag {
	var out []types.MessageTag
	for _, k := range []string{send.TagCampaign, send.TagActivity, send.TagRun, send.TagRecipient, send.TagToken} {
		if v, ok := tags[k]; ok && v != "" {
			out = append(out, types.MessageTag{Name: aws.String(k), Value: aws.String(TagValue(v))})
		}
	}
	return out
}

// TagValue makes v a valid SES tag value.
func TagValue(v string) string {
	v = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, v)
	if len(v) > 256 {
		v = v[:256]
	}
	return v
}

// Classify maps an SES error to a send error.
func Classify(err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return &send.Transient{Msg: err.Error()}
	}
	msg := ae.ErrorCode() + ": " + ae.ErrorMessage()
	switch ae.ErrorCode() {
	case "TooManyRequestsException", "Throttling", "ThrottlingException":
		return &send.Throttled{Msg: msg}
	case "LimitExceededException", "AccountSuspendedException", "SendingPausedException",
		"MailFromDomainNotVerifiedException", "NotFoundException", "AccessDeniedException",
		"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException":
		return &send.Permanent{Msg: msg, Account: true}
	case "MessageRejected", "BadRequestException":
		return &send.Permanent{Msg: msg}
	}
	if ae.ErrorFault() == smithy.FaultClient {
		return &send.Permanent{Msg: msg}
	}
	return &send.Transient{Msg: msg}
}
