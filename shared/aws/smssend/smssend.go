// Package smssend sends SMS with AWS End User Messaging SMS
// (pinpoint-sms-voice-v2 SendTextMessage), and SMS or mobile push with SNS
// Publish. Message tags travel as the SendTextMessage Context (echoed in
// its events) and as SNS message attributes.
package smssend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	smstypes "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/stepwise-run/stepwise/shared/send"
)

// SMSClient is the part of the pinpoint-sms-voice-v2 client the SMS sender uses.
type SMSClient interface {
	SendTextMessage(ctx context.Context, in *sms.SendTextMessageInput, opts ...func(*sms.Options)) (*sms.SendTextMessageOutput, error)
}

// SMS is a send.Sender for text messages through End User Messaging SMS.
type SMS struct {
	Client SMSClient
	// OriginationIdentity is a phone number, sender id, pool id or ARN;
	// a message's Sender overrides it.
	OriginationIdentity string
	ConfigurationSet    string
	// MaxPrice caps the price per message part, e.g. "0.05".
	MaxPrice string
}

var _ send.Sender = (*SMS)(nil)

// Send implements send.Sender.
func (s *SMS) Send(ctx context.Context, m *send.Message) (string, error) {
	if m.Channel != "" && m.Channel != send.SMS {
		return "", &send.Permanent{Msg: "End User Messaging SMS sends sms only", Account: true}
	}
	in := &sms.SendTextMessageInput{
		DestinationPhoneNumber: aws.String(m.To),
		MessageBody:            aws.String(m.Text),
		MessageType:            smstypes.MessageTypeTransactional,
		Context:                copyTags(m.Tags),
	}
	if m.Marketing {
		in.MessageType = smstypes.MessageTypePromotional
	}
	if id := firstNonEmpty(m.Sender, s.OriginationIdentity); id != "" {
		in.OriginationIdentity = aws.String(id)
	}
	if s.ConfigurationSet != "" {
		in.ConfigurationSetName = aws.String(s.ConfigurationSet)
	}
	if s.MaxPrice != "" {
		in.MaxPrice = aws.String(s.MaxPrice)
	}
	out, err := s.Client.SendTextMessage(ctx, in)
	if err != nil {
		return "", Classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

func copyTags(tags map[string]string) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// SNSClient is the part of the SNS client the SNS sender uses.
type SNSClient interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
	CreatePlatformEndpoint(ctx context.Context, in *sns.CreatePlatformEndpointInput, opts ...func(*sns.Options)) (*sns.CreatePlatformEndpointOutput, error)
}

// SNS is a send.Sender for SMS (to a phone number) and mobile push (to a
// platform endpoint ARN, or to a device token registered on
// PlatformApplicationArn first).
type SNS struct {
	Client SNSClient
	// PlatformApplicationArn registers device tokens that are not endpoint ARNs.
	PlatformApplicationArn string
	// SenderID is the SMS sender id attribute, when the country supports it.
	SenderID string

	endpoints sync.Map // device token → endpoint ARN
}

var _ send.Sender = (*SNS)(nil)

// Send implements send.Sender.
func (s *SNS) Send(ctx context.Context, m *send.Message) (string, error) {
	in := &sns.PublishInput{MessageAttributes: attributes(m.Tags)}
	switch m.Channel {
	case send.SMS:
		in.PhoneNumber = aws.String(m.To)
		in.Message = aws.String(m.Text)
		typ := "Transactional"
		if m.Marketing {
			typ = "Promotional"
		}
		in.MessageAttributes["AWS.SNS.SMS.SMSType"] = *str(typ)
		if id := firstNonEmpty(m.Sender, s.SenderID); id != "" {
			in.MessageAttributes["AWS.SNS.SMS.SenderID"] = *str(id)
		}
	case send.Push:
		arn, err := s.endpoint(ctx, m.To)
		if err != nil {
			return "", err
		}
		in.TargetArn = aws.String(arn)
		in.MessageStructure = aws.String("json")
		in.Message = aws.String(PushPayload(m))
	default:
		return "", &send.Permanent{Msg: "SNS sends sms and push only", Account: true}
	}
	out, err := s.Client.Publish(ctx, in)
	if err != nil {
		return "", Classify(err)
	}
	return aws.ToString(out.MessageId), nil
}

func (s *SNS) endpoint(ctx context.Context, to string) (string, error) {
	if strings.HasPrefix(to, "arn:") {
		return to, nil
	}
	if v, ok := s.endpoints.Load(to); ok {
		return v.(string), nil
	}
	if s.PlatformApplicationArn == "" {
		return "", &send.Permanent{Msg: "push address is a device token and no platform application is configured", Account: true}
	}
	// CreatePlatformEndpoint is idempotent for a token with the same attributes.
	out, err := s.Client.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{
		PlatformApplicationArn: aws.String(s.PlatformApplicationArn), Token: aws.String(to)})
	if err != nil {
		return "", Classify(err)
	}
	arn := aws.ToString(out.EndpointArn)
	s.endpoints.Store(to, arn)
	return arn, nil
}

// PushPayload is the SNS JSON message of a push: the same notification for
// FCM (GCM), APNs and APNs sandbox, with the data fields.
func PushPayload(m *send.Message) string {
	gcm, _ := json.Marshal(map[string]any{
		"notification": map[string]string{"title": m.Title, "body": m.Text},
		"data":         m.Data,
	})
	aps := map[string]any{"aps": map[string]any{"alert": map[string]string{"title": m.Title, "body": m.Text}}}
	for k, v := range m.Data {
		if k != "aps" {
			aps[k] = v
		}
	}
	apns, _ := json.Marshal(aps)
	out, _ := json.Marshal(map[string]string{"default": firstNonEmpty(m.Text, m.Title), "GCM": string(gcm), "APNS": string(apns), "APNS_SANDBOX": string(apns)})
	return string(out)
}

func attributes(tags map[string]string) map[string]snstypes.MessageAttributeValue {
	out := map[string]snstypes.MessageAttributeValue{}
	for k, v := range tags {
		if v != "" {
			out["stepwise."+k] = *str(v)
		}
	}
	return out
}

func str(v string) *snstypes.MessageAttributeValue {
	return &snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

func firstNonEmpty(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

// Classify maps an SMS or SNS error to a send error.
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
	case "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException":
		return &send.Throttled{Msg: msg}
	case "ServiceQuotaExceededException", "KMSThrottlingException":
		// Per-second quotas (MPS) are throttling; a spend limit reached is not
		// distinguishable here and clears when the month or limit changes.
		return &send.Throttled{Msg: msg}
	case "AccessDeniedException", "AuthorizationError", "ResourceNotFoundException", "NotFound",
		"KMSDisabled", "KMSAccessDenied", "UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException":
		return &send.Permanent{Msg: msg, Account: true}
	case "ValidationException", "InvalidParameter", "InvalidParameterValue", "EndpointDisabled",
		"ConflictException", "OptedOut", "PlatformApplicationDisabled":
		return &send.Permanent{Msg: msg}
	}
	if ae.ErrorFault() == smithy.FaultClient {
		return &send.Permanent{Msg: msg}
	}
	return &send.Transient{Msg: msg}
}
