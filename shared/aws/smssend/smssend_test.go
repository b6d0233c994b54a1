package smssend_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	smstypes "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/stepwise-run/stepwise/shared/aws/smssend"
	"github.com/stepwise-run/stepwise/shared/send"
)

type fakeSMS struct{ in *sms.SendTextMessageInput }

func (f *fakeSMS) SendTextMessage(_ context.Context, in *sms.SendTextMessageInput, _ ...func(*sms.Options)) (*sms.SendTextMessageOutput, error) {
	f.in = in
	if aws.ToString(in.DestinationPhoneNumber) == "+10000000000" {
		return nil, &smithy.GenericAPIError{Code: "ThrottlingException", Message: "slow down"}
	}
	return &sms.SendTextMessageOutput{MessageId: aws.String("m-1")}, nil
}

func TestSMS(t *testing.T) {
	f := &fakeSMS{}
	s := &smssend.SMS{Client: f, OriginationIdentity: "pool-1", ConfigurationSet: "events"}
	m := &send.Message{Channel: send.SMS, To: "+33612345678", Text: "Hi", Marketing: true, Tags: map[string]string{"run": "r1", "token": "sw-1"}}
	id, err := s.Send(context.Background(), m)
	if err != nil || id != "m-1" {
		t.Fatal(id, err)
	}
	in := f.in
	if aws.ToString(in.OriginationIdentity) != "pool-1" || in.MessageType != smstypes.MessageTypePromotional ||
		aws.ToString(in.ConfigurationSetName) != "events" || in.Context["token"] != "sw-1" || aws.ToString(in.MessageBody) != "Hi" {
		t.Errorf("%+v", in)
	}
	m.To = "+10000000000"
	if _, err := s.Send(context.Background(), m); send.Kind(err) != send.KindThrottled {
		t.Errorf("throttling: %v", err)
	}
}

type fakeSNS struct {
	pub *sns.PublishInput
	eps int
}

func (f *fakeSNS) Publish(_ context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.pub = in
	return &sns.PublishOutput{MessageId: aws.String("p-1")}, nil
}

func (f *fakeSNS) CreatePlatformEndpoint(_ context.Context, in *sns.CreatePlatformEndpointInput, _ ...func(*sns.Options)) (*sns.CreatePlatformEndpointOutput, error) {
	f.eps++
	return &sns.CreatePlatformEndpointOutput{EndpointArn: aws.String("arn:aws:sns:us-east-1:1:endpoint/GCM/app/" + aws.ToString(in.Token))}, nil
}

func TestSNSPushAndSMS(t *testing.T) {
	f := &fakeSNS{}
	s := &smssend.SNS{Client: f, PlatformApplicationArn: "arn:aws:sns:us-east-1:1:app/GCM/app"}
	m := &send.Message{Channel: send.Push, To: "device-token", Title: "T", Text: "B", Data: map[string]string{"link": "x"}, Tags: map[string]string{"run": "r1"}}
	for range 2 {
		if _, err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	if f.eps != 1 || aws.ToString(f.pub.TargetArn) != "arn:aws:sns:us-east-1:1:endpoint/GCM/app/device-token" || aws.ToString(f.pub.MessageStructure) != "json" {
		t.Errorf("%d endpoints, %+v", f.eps, f.pub)
	}
	var payload map[string]string
	json.Unmarshal([]byte(aws.ToString(f.pub.Message)), &payload)
	var gcm map[string]any
	json.Unmarshal([]byte(payload["GCM"]), &gcm)
	if gcm["notification"].(map[string]any)["title"] != "T" || gcm["data"].(map[string]any)["link"] != "x" || payload["APNS"] == "" {
		t.Errorf("payload %v", payload)
	}
	if _, err := s.Send(context.Background(), &send.Message{Channel: send.SMS, To: "+33612345678", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(f.pub.PhoneNumber) != "+33612345678" || aws.ToString(f.pub.MessageAttributes["AWS.SNS.SMS.SMSType"].StringValue) != "Transactional" {
		t.Errorf("%+v", f.pub)
	}
}

func TestClassify(t *testing.T) {
	for code, want := range map[string]int{"ThrottlingException": send.KindThrottled, "AccessDeniedException": send.KindAccount,
		"ValidationException": send.KindPermanent, "EndpointDisabled": send.KindPermanent, "InternalServerException": send.KindTransient} {
		fault := smithy.FaultServer
		if want == send.KindPermanent {
			fault = smithy.FaultClient
		}
		if got := send.Kind(smssend.Classify(&smithy.GenericAPIError{Code: code, Fault: fault})); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
}
