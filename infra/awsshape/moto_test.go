package awsshape_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/stepwise-run/stepwise/shared/testenv"
)

// moto is a moto_server that authorizes every call against IAM once
// enforce is called: before that it serves the test's bootstrap calls
// (users, keys, bucket, table, identities) unauthenticated.
//
// What moto 5.2.1 checks (moto/core/authorization.py, iam/access_control.py):
// the SigV4 signature of every call, and the call's action against the
// caller's policies. Only S3 (and SQS, IAM, STS) pass the call's resource
// ARN; every other service is checked against the resource "*", which a
// resource-scoped statement never matches. The harness therefore gives
// moto, for non-S3 actions, a copy of each statement with Resource "*":
// there moto checks the action, not the resource; the gate (gate_test.go)
// checks those resources. Conditions are dropped from moto's copy (moto
// would deny a statement whose condition keys it does not know).
type moto struct {
	url    string
	mu     sync.Mutex
	denied []denial
	calls  counter           // successful calls by IAM action, all callers
	users  map[string]string // access key id → user
	// The users' policies as the template has them (the gate's), by user.
	policies map[string][]policy
}

// denial is a call moto, the gate or the Lambda router refused; Function
// is the IAM user (stepwise-shape-<function>) or the role.
type denial struct {
	Function, Action, Resource, Message string
}

func (d denial) String() string {
	s := d.Function + ": " + d.Action
	if d.Resource != "" {
		s += " on " + d.Resource
	}
	return s + " denied"
}

func startMoto(t testing.TB) *moto {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		require(t, "moto_server is not on PATH")
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		require(t, "python3 is not on PATH")
	}
	// moto_server, with its SigV4 query canonicalization fixed (motoiam.py).
	cmd := exec.Command(py, filepath.Join(repoRoot(t), "infra", "awsshape", "motoiam.py"))
	// Unauthenticated until enforce (reset-auth) turns it on.
	cmd.Env = append(os.Environ(), "INITIAL_NO_AUTH_ACTION_COUNT=inf", "MOTO_ACCOUNT_ID="+account)
	var log io.Writer
	if os.Getenv("STEPWISE_SHAPE_LOGS") != "" {
		log = os.Stderr
	}
	return &moto{url: testenv.StartMoto(t, cmd, log), users: map[string]string{}, policies: map[string][]policy{}}
}

// query makes a signed query-protocol call (IAM has no client in go.mod).
func (m *moto) query(t testing.TB, service string, form url.Values) []byte {
	t.Helper()
	body := form.Encode()
	req, _ := http.NewRequest(http.MethodPost, m.url+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: "bootstrap", SecretAccessKey: "bootstrap"}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto %s %s: %s\n%s", service, form.Get("Action"), resp.Status, out)
	}
	return out
}

// user creates an IAM user with the given policies and returns its keys.
func (m *moto) user(t testing.TB, name string, policies []policy) aws.Credentials {
	t.Helper()
	m.query(t, "iam", url.Values{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {name}})
	for i, p := range policies {
		if len(p.Statement) == 0 {
			continue
		}
		m.query(t, "iam", url.Values{"Action": {"PutUserPolicy"}, "Version": {"2010-05-08"}, "UserName": {name},
			"PolicyName": {fmt.Sprintf("p%d", i)}, "PolicyDocument": {string(motoPolicy(p).document())}})
	}
	var key struct {
		ID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		Secret string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	out := m.query(t, "iam", url.Values{"Action": {"CreateAccessKey"}, "Version": {"2010-05-08"}, "UserName": {name}})
	if err := xml.Unmarshal(out, &key); err != nil || key.ID == "" {
		t.Fatalf("CreateAccessKey %s: %v\n%s", name, err, out)
	}
	m.mu.Lock()
	m.users[key.ID] = name
	m.policies[name] = policies
	m.mu.Unlock()
	return aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret}
}

// enforce turns authorization on for every later call.
func (m *moto) enforce(t testing.TB) {
	t.Helper()
	resp, err := http.Post(m.url+"/moto-api/reset-auth", "text/plain", strings.NewReader("0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moto reset-auth: %s", resp.Status)
	}
}

// transactional are the DynamoDB operations moto authorizes by their own
// name; AWS has no such IAM actions and authorizes each item's action.
var transactional = map[string][]string{
	"dynamodb:TransactWriteItems": {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"},
	"dynamodb:TransactGetItems":   {"dynamodb:GetItem"},
}

// motoPolicy is p as moto can evaluate it (see moto).
func motoPolicy(p policy) policy {
	out := policy{Name: p.Name}
	for _, s := range p.Statement {
		s.Condition = nil
		var s3, other []string
		for _, a := range s.Action {
			if strings.HasPrefix(a, "s3:") {
				s3 = append(s3, a)
			} else {
				other = append(other, a)
			}
		}
		if len(s.NotAction) > 0 || len(s.NotResource) > 0 {
			out.Statement = append(out.Statement, s)
			continue
		}
		if len(s3) > 0 {
			k := s
			k.Action = s3
			out.Statement = append(out.Statement, k)
		}
		if len(other) > 0 {
			for op, items := range transactional {
				for _, a := range other {
					if slices.Contains(items, a) {
						other = append(other, op)
						break
					}
				}
			}
			k := s
			k.Action, k.Resource = other, []string{"*"}
			out.Statement = append(out.Statement, k)
		}
	}
	return out
}

var (
	credential = regexp.MustCompile(`Credential=([^/,]+)/`)
	notAllowed = regexp.MustCompile(`not authorized to perform:? ([a-z0-9-]+:[A-Za-z0-9]+)`)
)

// handler forwards to moto, recording denied calls (with the caller's
// function, the IAM action and, for S3, the resource) and counting
// successful ones by action.
func (m *moto) handler(service string) http.Handler {
	u, _ := url.Parse(m.url)
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		user := ""
		if mm := credential.FindStringSubmatch(r.Header.Get("Authorization")); mm != nil {
			m.mu.Lock()
			user = m.users[mm[1]]
			if user == "" {
				user = "unknown key " + mm[1]
			}
			m.mu.Unlock()
		}
		// The gate checks resources for every user the harness made (the
		// test's own may do anything).
		m.mu.Lock()
		ps, gated := m.policies[user]
		m.mu.Unlock()
		for _, a := range needs(service, r, body) {
			if gated && !allowed(ps, a) {
				msg := "User: arn:aws:iam::" + account + ":user/" + user + " is not authorized to perform: " + a.action + " on resource: " + a.resource
				m.deny(denial{Function: user, Action: a.action, Resource: a.resource, Message: msg})
				refuse(w, service, msg)
				return
			}
		}
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(rec, r)
		action, resource := iamAction(service, r, body)
		if rec.status == http.StatusOK || rec.status == http.StatusNoContent || rec.status == http.StatusPartialContent {
			m.calls.add(action, 1)
			if form, _ := url.ParseQuery(string(body)); service == "sns" && form.Get("Action") == "Publish" && form.Get("TopicArn") != "" {
				m.calls.add(topicPublish, 1) // an alert, not a push
			}
			return
		}
		if rec.status != http.StatusForbidden {
			return
		}
		d := denial{Function: user, Action: action, Resource: resource, Message: rec.body.String()}
		if mm := notAllowed.FindStringSubmatch(d.Message); mm != nil {
			d.Action = mm[1] // moto's own name for it
		}
		m.deny(d)
	})
}

// topicPublish counts the sns:Publish calls to a topic (alerts).
const topicPublish = "sns:Publish to a topic"

// topicPublishes is how many sns:Publish calls went to a topic.
func (m *moto) topicPublishes() int { return m.calls.snapshot()[topicPublish] }

func (m *moto) deny(d denial) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.denied = append(m.denied, d)
}

// denials returns the refused calls so far, sorted and deduplicated.
func (m *moto) denials() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, d := range m.denied {
		if s := d.String(); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == http.StatusForbidden && r.body.Len() < 4096 {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// iamAction names the IAM action (and for S3 the resource) of a request.
func iamAction(service string, r *http.Request, body []byte) (string, string) {
	switch service {
	case "s3":
		path := strings.TrimPrefix(r.URL.Path, "/")
		bucket, key, _ := strings.Cut(path, "/")
		q := r.URL.Query()
		if key == "" {
			switch r.Method {
			case http.MethodGet:
				return "s3:ListBucket", "arn:aws:s3:::" + bucket
			case http.MethodPut:
				return "s3:CreateBucket", "arn:aws:s3:::" + bucket
			case http.MethodHead:
				return "s3:ListBucket", "arn:aws:s3:::" + bucket // HeadBucket
			case http.MethodPost:
				return "s3:DeleteObject", "arn:aws:s3:::" + bucket + "/*" // DeleteObjects
			}
			return "s3:DeleteBucket", "arn:aws:s3:::" + bucket
		}
		res := "arn:aws:s3:::" + bucket + "/" + key
		switch {
		case r.Method == http.MethodGet || r.Method == http.MethodHead:
			return "s3:GetObject", res
		case r.Method == http.MethodDelete && q.Has("uploadId"):
			return "s3:AbortMultipartUpload", res
		case r.Method == http.MethodDelete:
			return "s3:DeleteObject", res
		default:
			return "s3:PutObject", res
		}
	case "dynamodb":
		op := r.Header.Get("X-Amz-Target")
		return "dynamodb:" + op[strings.LastIndexByte(op, '.')+1:], ""
	case "sns":
		form, _ := url.ParseQuery(string(body))
		return "sns:" + form.Get("Action"), ""
	case "ses":
		if strings.HasSuffix(r.URL.Path, "/outbound-emails") {
			return "ses:SendEmail", ""
		}
		return "ses:" + r.Method + " " + r.URL.Path, ""
	}
	return service + ":?", ""
}

// bootstrap creates what the deployment has besides the stack's bucket and
// table: the verified sending identity (the examples send from
// news@shop.example; SES refuses unverified senders, as moto does) and the
// push platform application.
func (m *moto) bootstrap(t testing.TB, ctx context.Context, creds aws.CredentialsProvider) {
	t.Helper()
	ses := sesv2.New(sesv2.Options{Region: region, BaseEndpoint: aws.String(m.url), Credentials: creds})
	if _, err := ses.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String("shop.example")}); err != nil {
		t.Fatal(err)
	}
	sn := sns.New(sns.Options{Region: region, BaseEndpoint: aws.String(m.url), Credentials: creds})
	out, err := sn.CreatePlatformApplication(ctx, &sns.CreatePlatformApplicationInput{Name: aws.String(stack), Platform: aws.String("GCM"),
		Attributes: map[string]string{"PlatformCredential": "shape-fcm-key"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.PlatformApplicationArn); got != pushApp {
		t.Fatalf("platform application %s, want %s", got, pushApp)
	}
	// The template's AlertTopic: alert activities publish to it.
	topic, err := sn.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(stack + "-alerts")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(topic.TopicArn); got != alertTopic {
		t.Fatalf("alert topic %s, want %s", got, alertTopic)
	}
}
