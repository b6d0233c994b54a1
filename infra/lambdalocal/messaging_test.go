package lambdalocal_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sms "github.com/aws/aws-sdk-go-v2/service/pinpointsmsvoicev2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepwise-run/stepwise/infra/lambdalocal"
)

func TestFakeSNS(t *testing.T) {
	fake := &lambdalocal.SNS{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := sns.New(sns.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	ctx := context.Background()
	ep, err := c.CreatePlatformEndpoint(ctx, &sns.CreatePlatformEndpointInput{PlatformApplicationArn: aws.String("arn:aws:sns:us-east-1:1:app/GCM/shop"), Token: aws.String("tok/1")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Publish(ctx, &sns.PublishInput{TargetArn: ep.EndpointArn, Message: aws.String(`{"default":"hi"}`), MessageStructure: aws.String("json")})
	if err != nil {
		t.Fatal(err)
	}
	m := fake.Messages()
	if len(m) != 1 || m[0].MessageID != aws.ToString(out.MessageId) || m[0].TargetArn != "arn:aws:sns:us-east-1:1:endpoint/GCM/shop/tok-1" || m[0].Message != `{"default":"hi"}` {
		t.Errorf("%+v", m)
	}
}

func TestFakeSMSVoice(t *testing.T) {
	fake := &lambdalocal.SMSVoice{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	c := sms.New(sms.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), Credentials: aws.AnonymousCredentials{}})
	out, err := c.SendTextMessage(context.Background(), &sms.SendTextMessageInput{DestinationPhoneNumber: aws.String("+33600000000"), MessageBody: aws.String("Hi")})
	if err != nil {
		t.Fatal(err)
	}
	if m := fake.Messages(); len(m) != 1 || m[0].MessageID != aws.ToString(out.MessageId) || m[0].PhoneNumber != "+33600000000" {
		t.Errorf("%+v", m)
	}
}
