package lambdalocal

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// Published is a message the fake SNS or SMS endpoint accepted.
type Published struct {
	MessageID   string
	TargetArn   string // SNS mobile push endpoint
	TopicArn    string // SNS topic (the alert activity's)
	PhoneNumber string // SMS
	Message     string
}

// SNS fakes the SNS calls senders make, Publish and CreatePlatformEndpoint
// (query protocol): point AWS_ENDPOINT_URL_SNS at it.
type SNS struct {
	mu   sync.Mutex
	msgs []Published
	seq  int
}

// Messages returns the messages published so far.
func (s *SNS) Messages() []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Published(nil), s.msgs...)
}

func (s *SNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	const ns = `xmlns="http://sns.amazonaws.com/doc/2010-03-31/"`
	switch action := r.PostForm.Get("Action"); action {
	case "Publish":
		s.mu.Lock()
		s.seq++
		m := Published{MessageID: fmt.Sprintf("sns-%06d", s.seq), TargetArn: r.PostForm.Get("TargetArn"),
			TopicArn: r.PostForm.Get("TopicArn"), PhoneNumber: r.PostForm.Get("PhoneNumber"), Message: r.PostForm.Get("Message")}
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
		fmt.Fprintf(w, `<PublishResponse %s><PublishResult><MessageId>%s</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`, ns, m.MessageID)
	case "CreatePlatformEndpoint":
		app, token := r.PostForm.Get("PlatformApplicationArn"), r.PostForm.Get("Token")
		arn := strings.Replace(app, ":app/", ":endpoint/", 1) + "/" + strings.Map(func(c rune) rune {
			if c == '/' || c == ':' {
				return '-'
			}
			return c
		}, token)
		fmt.Fprintf(w, `<CreatePlatformEndpointResponse %s><CreatePlatformEndpointResult><EndpointArn>%s</EndpointArn></CreatePlatformEndpointResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></CreatePlatformEndpointResponse>`, ns, arn)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `<ErrorResponse %s><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>fake SNS does not serve %s</Message></Error></ErrorResponse>`, ns, action)
	}
}

// SMSVoice fakes End User Messaging SMS SendTextMessage (JSON 1.0): point
// AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2 at it.
type SMSVoice struct {
	mu   sync.Mutex
	msgs []Published
	seq  int
}

// Messages returns the texts sent so far.
func (s *SMSVoice) Messages() []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Published(nil), s.msgs...)
}

func (s *SMSVoice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if t := r.Header.Get("X-Amz-Target"); !strings.HasSuffix(t, ".SendTextMessage") {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"ValidationException","message":"fake SMS does not serve %s"}`, t)
		return
	}
	var in struct{ DestinationPhoneNumber, MessageBody string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"__type":"ValidationException","message":%q}`, err.Error())
		return
	}
	s.mu.Lock()
	s.seq++
	m := Published{MessageID: fmt.Sprintf("sms-%06d", s.seq), PhoneNumber: in.DestinationPhoneNumber, Message: in.MessageBody}
	s.msgs = append(s.msgs, m)
	s.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]string{"MessageId": m.MessageID})
}
